"""Notifications (通知): in-app messages, email, signed webhooks and pluggable channels,
with per-user subscriptions, quiet hours and retries that never block other channels."""
