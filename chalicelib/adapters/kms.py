"""Webhook secrets at rest: KMS `Encrypt` of the secret itself (at most a few dozen bytes, far under
KMS's 4 KB), bound to its webhook by the encryption context, so a ciphertext copied onto another
webhook's item does not decrypt. The API function encrypts (at create); only the delivery
function may decrypt (its role has kms:Decrypt on the key, the API's has not)."""

from __future__ import annotations

from functools import lru_cache


def context(clinic_id: str, webhook_id: str) -> dict[str, str]:
    return {"clinic_id": clinic_id, "webhook_id": webhook_id, "purpose": "followups-webhook-secret"}


@lru_cache(maxsize=1)
def _client():
    import boto3
    from botocore.config import Config

    from .. import config

    return boto3.client("kms", region_name=config.region(),
                        config=Config(connect_timeout=2, read_timeout=5,
                                      retries={"max_attempts": 3, "mode": "standard"}))


class KmsSecretBox:
    """seal / open a webhook's secret with the configured key (moto's KMS in tests and locally)."""

    def __init__(self, key_id: str, client=None):
        self.key_id, self._given = key_id, client

    @property
    def client(self):
        return self._given or _client()

    def seal(self, secret: str, clinic_id: str, webhook_id: str) -> bytes:
        return self.client.encrypt(KeyId=self.key_id, Plaintext=secret.encode(),
                                   EncryptionContext=context(clinic_id, webhook_id))["CiphertextBlob"]

    def open(self, ciphertext: bytes, clinic_id: str, webhook_id: str) -> str:
        return self.client.decrypt(CiphertextBlob=ciphertext, KeyId=self.key_id,
                                   EncryptionContext=context(clinic_id, webhook_id))["Plaintext"].decode()


def secret_box() -> KmsSecretBox:
    from .. import config

    return KmsSecretBox(config.webhook_settings().kms_key_id)
