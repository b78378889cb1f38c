"""What webhooks need from outside: KMS for the secrets, SQS for the tries, HTTP for the sending.

Neither the domain nor the store imports these; the services get them passed in (tests pass fakes)."""
