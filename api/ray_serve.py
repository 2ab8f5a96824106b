"""Scale out on Ray Serve: the same FastAPI app as a deployment of N replicas behind Ray Serve's HTTP proxy.

Each replica builds the app itself (`serve.ingress` with an app builder, evaluated on the replica) and loads the
models and the index read-only from the configured index folder, the one published location: a reindex on any
replica publishes a new build there and every replica switches to it (`QA_INDEX_POLL_S`) without dropping the
questions in flight. Within a replica, questions that arrive together are answered in one batched pass
(`api.service`); Serve bounds what a replica takes at once (`max_ongoing_requests`). On one machine `qa serve
--replicas N` starts a local Ray cluster; with `RAY_ADDRESS` set it joins an existing one, where the same deployment
spreads over the nodes (the index folder must then be shared storage).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

from qa.config import Settings

log = logging.getLogger(__name__)

# Environment a replica needs to build the same app as this process (settings and offline model loading).
_FORWARDED = ("HF_HUB_OFFLINE", "TOKENIZERS_PARALLELISM")


def build_app() -> Any:
    """The app, as each replica builds it: settings from the environment Ray forwarded, models loaded at start-up
    (the replica takes traffic only once its lifespan start-up, which loads and warms the pipeline, is done)."""
    from api.app import create_app

    return create_app(Settings(), load_in_background=False)


def deployment_options(
    replicas: int, max_replicas: int | None = None, max_ongoing_requests: int = 32
) -> dict[str, Any]:
    """Serve options for the deployment: `replicas` fixed, or with `max_replicas` autoscaling between the two on
    the questions each replica has in hand (about 8 fill one batched pass; more only wait in its queue)."""
    options: dict[str, Any] = {
        "name": "newsqa",
        "max_ongoing_requests": max_ongoing_requests,
        "ray_actor_options": {"num_cpus": 0},  # the reader uses its own threads; Ray should not ration cores
        "health_check_period_s": 2,
    }
    if max_replicas and max_replicas > replicas:
        options["autoscaling_config"] = {
            "min_replicas": replicas,
            "max_replicas": max_replicas,
            "target_ongoing_requests": 8,
            "upscale_delay_s": 10,
            "downscale_delay_s": 120,
        }
    else:
        options["num_replicas"] = replicas
    return options


def deployment(replicas: int, max_replicas: int | None = None) -> Any:
    from ray import serve

    ingress: Any = serve.deployment(serve.ingress(build_app)(), **deployment_options(replicas, max_replicas))
    return ingress.bind()


def serve_replicas(settings: Settings, replicas: int, max_replicas: int | None = None) -> None:
    """Run `replicas` replicas (autoscaling up to `max_replicas`) on a local Ray cluster (or the one RAY_ADDRESS
    names) until SIGINT or SIGTERM."""
    import ray
    from ray import serve

    env = {k: v for k, v in os.environ.items() if k.startswith("QA_") or k in _FORWARDED}
    ray.init(
        address=os.environ.get("RAY_ADDRESS"),
        runtime_env={"env_vars": env},
        include_dashboard=False,
        logging_level=logging.WARNING,
    )
    serve.start(http_options={"host": settings.host, "port": settings.port})
    serve.run(deployment(replicas, max_replicas), name="newsqa", route_prefix="/")
    log.info("serving on http://%s:%d with %d replicas", settings.host, settings.port, replicas)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    log.info("shutting down the replicas")
    serve.shutdown()
    ray.shutdown()
