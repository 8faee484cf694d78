"""Builds transform's :class:`~.service.TransformService` from the function's configuration, on boto3."""

from __future__ import annotations

from imgpipe.config import Config, per_config
from imgpipe.needs import Need
from imgpipe.outputs import OutputsView
from imgpipe.settings import parse
from imgpipe.signing_keys import secret_keys
from imgpipe.transforms import KEY_CACHE_S, parse_keys

from .adapters import CatalogRounds, S3Renderings, S3Upload
from .service import TransformService
from .settings import Settings


@per_config
def from_config(config: Config) -> TransformService:
    outputs = OutputsView.parse(config.resource(Need.OUTPUTS))
    return TransformService(
        settings=parse(Settings, config.settings, service=config.processor),
        uploads=S3Upload(config.uploads_bucket),
        catalog=CatalogRounds(config.resource(Need.READ_CATALOG), config.uploads_bucket),
        renderings=S3Renderings(config.variants_bucket),
        keys=secret_keys(config.resource(Need.TRANSFORM_SECRET), KEY_CACHE_S, parse_keys),
        marked=outputs.marked,
        outputs=outputs,
    )
