# The deck's sign-in (deck.tf): off, ServeRankings is IAM-only as before; on, a browser reaches
# it and the function itself requires an Identity Platform ID token. Plans only, offline, as
# plan.tftest.hcl's.

provider "google" {
  project      = "pk-test-project"
  region       = "us-central1"
  access_token = "offline-test-token" # plan only: nothing calls Google
}

override_data {
  target = data.google_project.this
  values = { number = "123456789012" }
}

variables {
  project_id = "pk-test-project"
}

run "sign_in_off" {
  command = plan

  assert {
    condition     = length(google_cloud_run_service_iam_member.deck_public) == 0 && length(google_identity_platform_config.deck) == 0
    error_message = "Without deck_sign_in nothing is public and Identity Platform is left alone."
  }
  assert {
    condition     = google_cloudfunctions2_function.function["ServeRankings"].service_config[0].environment_variables.DECK_AUTH == "off"
    error_message = "Without deck_sign_in ServeRankings runs with DECK_AUTH=off (IAM alone guards it)."
  }
  # The column sets' grant: read-write on the deck's database alone, for ServeRankings alone.
  assert {
    condition = (
      google_project_iam_member.deck_firestore.role == "roles/datastore.user" &&
      google_project_iam_member.deck_firestore.member == "serviceAccount:fn-serve-rankings@pk-test-project.iam.gserviceaccount.com" &&
      google_project_iam_member.deck_firestore.condition[0].expression == "resource.name == \"projects/pk-test-project/databases/deck\"" &&
      google_cloudfunctions2_function.function["ServeRankings"].service_config[0].environment_variables.DECK_DATABASE == "deck"
    )
    error_message = "ServeRankings writes column sets in the deck database only (datastore.user conditioned on it)."
  }
}

run "sign_in_on" {
  command = plan

  variables {
    deck_sign_in      = true
    backfill_invokers = ["user:ops@example.com", "group:team@example.com"]
  }

  # The key's string is known only once Google makes it; the function's environment holds it.
  override_resource {
    target          = google_apikeys_key.deck
    override_during = plan
    values          = { key_string = "test-browser-key" }
  }

  # A browser can open the deck: allUsers may invoke ServeRankings, and only ServeRankings,
  # whose ingress takes outside traffic.
  assert {
    condition = (
      length(google_cloud_run_service_iam_member.deck_public) == 1 &&
      google_cloud_run_service_iam_member.deck_public[0].member == "allUsers" &&
      google_cloud_run_service_iam_member.deck_public[0].role == "roles/run.invoker" &&
      google_cloud_run_service_iam_member.deck_public[0].service == "serve-rankings" &&
      google_cloudfunctions2_function.function["ServeRankings"].service_config[0].ingress_settings == "ALLOW_ALL"
    )
    error_message = "With deck_sign_in a browser must reach ServeRankings: allUsers run.invoker on serve-rankings, ingress ALLOW_ALL."
  }
  # ... and auth is then required: the function verifies Identity Platform ID tokens.
  assert {
    condition     = google_cloudfunctions2_function.function["ServeRankings"].service_config[0].environment_variables.DECK_AUTH == "firebase"
    error_message = "With deck_sign_in public, ServeRankings must require sign-in itself (DECK_AUTH=firebase)."
  }
  assert {
    condition     = google_cloudfunctions2_function.function["ServeRankings"].service_config[0].environment_variables.DECK_FIREBASE_API_KEY == "test-browser-key"
    error_message = "The page needs the sign-in API key (DECK_FIREBASE_API_KEY)."
  }
  assert {
    condition     = !contains(keys(google_cloudfunctions2_function.function["ServeRankings"].service_config[0].environment_variables), "FIREBASE_AUTH_EMULATOR_HOST")
    error_message = "A deployed ServeRankings never accepts the Auth emulator's unsigned tokens."
  }
  # No other binding is public.
  assert {
    condition = alltrue([for b in concat(
      [for b in google_cloud_run_service_iam_member.invoker : b.member],
      [for b in google_cloud_run_service_iam_member.rankings_invoker : b.member],
    ) : !contains(["allUsers", "allAuthenticatedUsers"], b)])
    error_message = "deck_sign_in makes ServeRankings public and nothing else."
  }
  assert {
    condition     = google_cloudfunctions2_function.function["ServeRankings"].service_config[0].environment_variables.DECK_BACKFILL_ADMINS == "ops@example.com"
    error_message = "The backfills panel is for backfill_invokers' users (groups cannot be checked from an ID token)."
  }
  assert {
    condition     = contains(google_identity_platform_config.deck[0].authorized_domains, "serve-rankings-123456789012.us-central1.run.app")
    error_message = "Identity Platform must let sign-ins redirect back to the deck's run.app host."
  }
  assert {
    condition     = toset([for s in google_project_service.deck_sign_in : s.service]) == toset(["identitytoolkit.googleapis.com", "apikeys.googleapis.com"])
    error_message = "Sign-in needs the Identity Toolkit and API Keys APIs."
  }
}
