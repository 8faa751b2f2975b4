"""DynamoDB side of accounts: users, emails, devices, tokens, memberships (not the login throttle)."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.exceptions import TransactWriteError

from chalicelib.adapters.models import (
    DeviceModel,
    EmailModel,
    MembershipModel,
    NamespaceModel,
    TokenModel,
    UserModel,
    transaction,
)
from chalicelib.errors import Busy, Conflict, NotFound


def create_user(user: UserModel, email_key: str, namespace: NamespaceModel) -> None:
    """User, unique email, home namespace and owner membership: all or nothing."""
    try:
        with transaction() as tx:
            tx.save(
                EmailModel(email_key, user_id=user.user_id), condition=EmailModel.email_key.does_not_exist()
            )
            tx.save(user, condition=UserModel.user_id.does_not_exist())
            tx.save(namespace, condition=NamespaceModel.namespace_id.does_not_exist())
            tx.save(MembershipModel(user.user_id, namespace.namespace_id, role="owner"))
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons
        if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
            raise Conflict("an account with this email already exists", field="email") from exc
        # Anything else (another transaction on one of the items, throttling, an id that was
        # taken) says nothing about the email, and nothing was written.
        raise Busy(
            "the account could not be created just now; nothing was stored, try again", retry_after_s=1
        ) from exc


def user_by_email(email_key: str) -> UserModel | None:
    try:
        owner = EmailModel.get(email_key, consistent_read=True)
        return UserModel.get(owner.user_id, consistent_read=True)
    except (EmailModel.DoesNotExist, UserModel.DoesNotExist):
        return None


def get_user(user_id: str) -> UserModel:
    try:
        return UserModel.get(user_id, consistent_read=True)
    except UserModel.DoesNotExist as exc:
        raise NotFound("no such user") from exc


def save_password_hash(user: UserModel, password_hash: str) -> None:
    user.update(actions=[UserModel.password_hash.set(password_hash)])


def link_device(device: DeviceModel, token_hash: str, expires_at_s: int) -> None:
    with transaction() as tx:
        tx.save(device)
        tx.save(
            TokenModel(
                token_hash,
                user_id=device.user_id,
                device_id=device.device_id,
                expires_at=datetime.fromtimestamp(expires_at_s, UTC),
            ),
            condition=TokenModel.token_hash.does_not_exist(),
        )


def find_token(token_hash: str) -> TokenModel | None:
    try:
        return TokenModel.get(token_hash, consistent_read=True)
    except TokenModel.DoesNotExist:
        return None


def unlink_device(user_id: str, device_id: str) -> None:
    """Remove a device and its token: the token stops working with this call."""
    try:
        device = DeviceModel.get(user_id, device_id, consistent_read=True)
    except DeviceModel.DoesNotExist as exc:
        raise NotFound("no such device", device_id=device_id) from exc
    with transaction() as tx:
        tx.delete(TokenModel(device.token_hash))
        tx.delete(device)


def devices(user_id: str) -> list[DeviceModel]:
    return list(DeviceModel.query(user_id, consistent_read=True))


def memberships(user_id: str) -> list[MembershipModel]:
    return list(MembershipModel.query(user_id, consistent_read=True))


def role_in(user_id: str, namespace_id: str) -> str | None:
    try:
        return MembershipModel.get(user_id, namespace_id, consistent_read=True).role
    except MembershipModel.DoesNotExist:
        return None


def namespaces(namespace_ids: list[str]) -> dict[str, NamespaceModel]:
    if not namespace_ids:
        return {}
    return {ns.namespace_id: ns for ns in NamespaceModel.batch_get(namespace_ids, consistent_read=True)}
