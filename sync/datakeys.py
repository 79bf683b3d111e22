"""Where this node keeps its own wrapped data keys, outside every event and chain.

A station's copy of an entity's data key lives here, not in the event, so that
purging deletes it (crypto-shredding) while the event, its hash and every chain
stay as they were; the county keeps its own copy, wrapped inside the event.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from storage.models import DataKey, upsert

from .errors import KeyUnavailable
from .fields import unwrap_data_key, wrap_data_key


def keep_data_key(entity: str, recipient: str, data_key: bytes, public_key: ec.EllipticCurvePublicKey) -> None:
    upsert(DataKey, entity=entity, recipient=recipient, wrapped=wrap_data_key(data_key, public_key, entity))


def load_data_key(entity: str, recipient: str, private_key: ec.EllipticCurvePrivateKey) -> bytes:
    row = DataKey.get_or_none(entity=entity, recipient=recipient)
    if row is None:
        raise KeyUnavailable(f"{entity} 的个人信息在本站已清除或从未保存，无法解密")
    return unwrap_data_key(bytes(row.wrapped), private_key, entity)


def shred_data_key(entity: str, recipient: str) -> bool:
    """Delete this node's wrapped key of `entity`; True if there was one."""
    return DataKey.delete().where((DataKey.entity == entity) & (DataKey.recipient == recipient)).execute() > 0
