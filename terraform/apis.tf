# Every Google API the configuration and the functions use. Left enabled on destroy: other things
# in the project may use them too.
resource "google_project_service" "api" {
  for_each = toset([
    "artifactregistry.googleapis.com", # the functions' images
    "bigquery.googleapis.com",
    "bigquerystorage.googleapis.com", # the loader's Storage Write API
    "cloudbuild.googleapis.com",      # builds the functions
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com", # data.google_project
    "cloudscheduler.googleapis.com",
    "cloudtasks.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",    # log-based metrics (monitoring.tf)
    "monitoring.googleapis.com", # alert policies and the dashboard (monitoring.tf)
    "pubsub.googleapis.com",
    "run.googleapis.com", # 2nd gen functions are Cloud Run services
    "secretmanager.googleapis.com",
    "storage.googleapis.com", # the source bucket
  ])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
