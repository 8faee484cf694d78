"""Builds the api's :class:`~.service.UploadApi` from the function's configuration, on boto3."""

from __future__ import annotations

from imgpipe.config import Config, per_config
from imgpipe.needs import Need
from imgpipe.outputs import OutputsView
from imgpipe.settings import parse
from imgpipe.signing_keys import secret_keys
from imgpipe.transforms import KEY_CACHE_S as TRANSFORM_KEY_CACHE_S
from imgpipe.transforms import bounds_from_json, parse_keys

from .adapters import S3Uploads, UserCatalog
from .service import UploadApi
from .settings import Settings
from .transforms import TransformSigner


@per_config
def from_config(config: Config) -> UploadApi:
    return UploadApi(
        settings=parse(Settings, config.settings, service=config.processor),
        uploads=S3Uploads(config.uploads_bucket),
        catalog=UserCatalog(config.resource(Need.USER_CATALOG)),
        delivery_url=config.resource(Need.DELIVERY_URL),
        transforms=_signer(config),
        # without the spec (a harness that does not give it): no srcset, no facts shown (the safe side)
        outputs=OutputsView.parse(config.resources.get(Need.OUTPUTS)),
    )


def _signer(config: Config) -> TransformSigner | None:
    """What signs transform URLs, if the stack has the transform service (both needs given)."""
    if Need.TRANSFORM_SECRET not in config.resources or Need.TRANSFORM_BOUNDS not in config.resources:
        return None
    return TransformSigner(
        bounds=bounds_from_json(config.resource(Need.TRANSFORM_BOUNDS)),
        keys=secret_keys(config.resource(Need.TRANSFORM_SECRET), TRANSFORM_KEY_CACHE_S, parse_keys),
        marked=OutputsView.parse(config.resources.get(Need.OUTPUTS)).marked,
    )
