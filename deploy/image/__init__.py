"""The image's own files (deploy/Dockerfile.service)."""
