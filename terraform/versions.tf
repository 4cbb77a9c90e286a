terraform {
  # optional() attribute defaults and startswith() in variables.tf.
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.5, < 3.0" # glob patterns in excludes
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

# The project number names the Pub/Sub service agent and the functions' deterministic run.app URLs.
data "google_project" "this" {
  project_id = var.project_id
}
