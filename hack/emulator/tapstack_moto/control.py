"""A small control API next to the AWS endpoint, under /_tapstack/.

Tests use it for what AWS itself decides and no AWS API can set. Everything
else goes through the real AWS APIs. Routes (JSON in, JSON out; registered by
the service modules):

    GET  health                      readiness probe
    POST dms/task                    {taskArn, failWith?, fullLoadSeconds?,
                                      latencySource?, latencyTarget?, tables?}
                                     (latency* override the measured lag while
                                     set; null for both measures again)
    POST dms/table-statistics        {taskArn, tables: [{schema, table,
                                      validationState?, failed?, pending?,
                                      suspended?, tableState?, rows?}]}
    POST dms/connection              {endpointArn, status, message?}
    POST dms/settings                {transitionSeconds?, fullLoadSeconds?,
                                      connectionTestSeconds?, metricPeriodSeconds?,
                                      sampleIntervalSeconds?, validationIntervalSeconds?}
    POST rds/parameter-apply-status  {dbInstanceIdentifier, status, region?}
    GET  rds/servers                 {servers: [{dbInstanceIdentifier, host, port,
                                      masterUsername, dbname, dataDir, walLevel,
                                      forceSsl, running, logFile, startupSeconds}]}
    POST s3/fill                     {bucket, versions, prefix?}: that many object
                                     versions, written in the backend
    POST route53/settings            {changePendingSeconds?}: how long a record
                                     change stays PENDING before INSYNC
    POST route53/health-check        {healthCheckId, checkers, healthy,
                                      failureStatus?}: what GetHealthCheckStatus
                                     reports (checkers null: moto's default,
                                     one healthy checker)
"""

from __future__ import annotations

import json
from typing import Any, Callable

PREFIX = "/_tapstack/"

Handler = Callable[[dict[str, Any]], Any]
_routes: dict[tuple[str, str], Handler] = {}


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _routes[(method, path)] = fn
        return fn

    return register


@route("GET", "health")
def _health(_: dict[str, Any]) -> Any:
    return {"ok": True}


def wrap(app: Callable) -> Callable:
    """WSGI middleware: /_tapstack/* here, everything else to moto."""

    def middleware(environ: dict[str, Any], start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return app(environ, start_response)
        handler = _routes.get((environ["REQUEST_METHOD"], path[len(PREFIX):]))
        if handler is None:
            return _reply(start_response, "404 Not Found", {"error": "no such control"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            return _reply(start_response, "200 OK", handler(body))
        except Exception as err:  # the caller is a test; tell it what went wrong
            return _reply(start_response, "400 Bad Request", {"error": repr(err)})

    return middleware


def _reply(start_response: Callable, status: str, payload: Any) -> list[bytes]:
    data = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]
