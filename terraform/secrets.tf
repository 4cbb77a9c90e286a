# The secrets the functions read. Only the secrets are declared: their values never pass through
# Terraform (state) or the repository. Add each value out of band, for example:
#   printf '%s' "$TOKEN" | gcloud secrets versions add x-bearer-token --data-file=-
# The functions read the "latest" version on their first request.
locals {
  secrets = {
    x_bearer_token        = var.x_bearer_token_secret_id
    youtube_client_id     = var.youtube_secret_ids.client_id
    youtube_client_secret = var.youtube_secret_ids.client_secret
    youtube_refresh_token = var.youtube_secret_ids.refresh_token
    recent_views_key      = var.recent_views_key_secret_id
  }
}

resource "google_secret_manager_secret" "secret" {
  for_each = local.secrets

  secret_id = each.value

  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}
