"""hlm360 invitations service."""
