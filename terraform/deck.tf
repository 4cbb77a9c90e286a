# The deck's sign-in (docs/sign-in.md): Identity Platform signs people in (Google at least),
# ServeRankings verifies their ID tokens (functions/serverankings/signin.go) and keeps each
# person's column sets in a Firestore database of their own.
#
# With deck_sign_in off (the default) ServeRankings stays callable only by run.invoker holders,
# as before. With it on, a browser must reach the page, which sends no Google-signed ID token for
# Cloud Run's IAM check: every visitor gets run.invoker on ServeRankings alone, and the function
# itself then refuses every data request without a valid Identity Platform ID token (DECK_AUTH
# is "firebase"; only the page and its scripts answer unauthenticated). This is Cloud Run's
# documented pattern for end users (https://cloud.google.com/run/docs/authenticating/end-users).

# The column sets' own database, so that ServeRankings' write grant reaches nothing else: it
# keeps read-only access to the rankings. Created whatever deck_sign_in says: an empty database
# costs nothing, and the local stack's IAM checks (generated from this configuration) then know
# the grant.
resource "google_firestore_database" "deck" {
  name        = var.deck_database
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  # Destroying the configuration leaves the database (and the users' sets) in place.
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.api]
}

# Conditioned on the deck's database as rankings_firestore is on the rankings' (see there why a
# condition on resource.name is what Firestore IAM offers).
resource "google_project_iam_member" "deck_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function["ServeRankings"].member

  condition {
    title       = "deck-database-only"
    description = "Only the deck's Firestore database (users' column sets)."
    expression  = "resource.name == \"projects/${var.project_id}/databases/${google_firestore_database.deck.name}\""
  }
}

locals {
  # The people who may start backfills (backfill_invokers' user: members) see the deck's
  # backfills panel; a group cannot be checked from an ID token, so groups are left out.
  deck_backfill_admins = [for m in var.backfill_invokers : trimprefix(m, "user:") if startswith(m, "user:")]

  deck_sign_in_env = {
    DECK_AUTH             = var.deck_sign_in ? "firebase" : "off"
    DECK_DATABASE         = google_firestore_database.deck.name
    DECK_BACKFILL_ADMINS  = join(",", local.deck_backfill_admins)
    DECK_FIREBASE_API_KEY = var.deck_sign_in ? google_apikeys_key.deck[0].key_string : ""
  }
}

resource "google_project_service" "deck_sign_in" {
  for_each = var.deck_sign_in ? toset(["identitytoolkit.googleapis.com", "apikeys.googleapis.com"]) : toset([])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false

  depends_on = [google_project_service.api]
}

# Identity Platform for the project: Google sign-in redirects only to authorized domains
# (https://cloud.google.com/identity-platform/docs/web/google), here the deck's run.app host.
# Created once per project; it may only be created in a billing-enabled project.
resource "google_identity_platform_config" "deck" {
  count = var.deck_sign_in ? 1 : 0

  project            = var.project_id
  authorized_domains = concat(["localhost", trimprefix(local.function_urls.ServeRankings, "https://")], var.deck_authorized_domains)

  depends_on = [google_project_service.api, google_project_service.deck_sign_in]
}

# Google as a sign-in provider is enabled once in the console (Identity Platform > Providers >
# Google), which creates its OAuth client; Terraform would have to keep that client's secret in
# its state (docs/sign-in.md).

# The web API key the page calls Identity Platform with: it names the project and is no secret
# (https://firebase.google.com/docs/projects/api-keys), restricted to the two sign-in APIs.
resource "google_apikeys_key" "deck" {
  count = var.deck_sign_in ? 1 : 0

  project      = var.project_id
  name         = "deck-sign-in"
  display_name = "Deck sign-in (Identity Platform)"

  restrictions {
    api_targets {
      service = "identitytoolkit.googleapis.com"
    }
    api_targets {
      service = "securetoken.googleapis.com"
    }
  }

  depends_on = [google_project_service.api, google_project_service.deck_sign_in]
}

# The one public binding of the configuration: a browser reaches ServeRankings, which then
# requires an Identity Platform ID token itself (DECK_AUTH=firebase above).
resource "google_cloud_run_service_iam_member" "deck_public" {
  count = var.deploy_functions && var.deck_sign_in ? 1 : 0

  project  = google_cloudfunctions2_function.function["ServeRankings"].project
  location = google_cloudfunctions2_function.function["ServeRankings"].location
  service  = google_cloudfunctions2_function.function["ServeRankings"].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
