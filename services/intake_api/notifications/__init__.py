"""Notifications administration (通知管理): webhook subscriptions, templates, outbox operations."""
