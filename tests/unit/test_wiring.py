"""imgpipe.config.per_config: the one composition shape of a service that builds an object from
its configuration (services/api/wiring.py, services/transform/wiring.py)."""

from __future__ import annotations

from imgpipe.config import Config, per_config


def test_one_object_per_configuration_rebuilt_after_cache_clear() -> None:
    built: list[Config] = []

    @per_config
    def from_config(config: Config) -> object:
        built.append(config)
        return object()

    api = Config("api", uploads_bucket="u", settings={"a": 1})
    transform = Config("transform", uploads_bucket="u")
    first = from_config(api)
    # a warm function reuses its object (its clients, its caches)
    assert from_config(Config("api", uploads_bucket="u", settings={"a": 1})) is first
    # the local stack runs every service in one process: each configuration has its own object
    assert from_config(transform) is not first
    assert from_config(Config("api", uploads_bucket="u", settings={"a": 2})) is not first
    # the builder sees the configuration as its function's environment carries it
    assert built[0] == api and len(built) == 3
    from_config.cache_clear()  # type: ignore[attr-defined]
    assert from_config(api) is not first
    assert from_config.__name__ == "from_config"
