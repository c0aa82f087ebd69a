"""Access: sign-in, API tokens, the role gate on every route and callback, and the audit log."""
