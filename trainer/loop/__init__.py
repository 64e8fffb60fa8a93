"""The learning loop: a model home of versions, retraining from collected chat, promotion and
rollback."""
