"""The registry client: transport (TLS, retries), authentication, credentials and errors."""
