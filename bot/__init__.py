"""streamchat's Twitch bot: answers `!chat`, joins the conversation, collects chat for retraining."""
