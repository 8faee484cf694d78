"""Costs of the embedded moto server that grew with the work, removed for the local stack.

Profiled on ``imgpipe local run`` with 200 small images and handlers in worker processes, the
stack's process (the emulator's) was the bottleneck at one core while the workers idled. Each
patch below keeps moto's answers the same (``tests/integration/test_emulator_speedups.py``
compares them with moto's own) and removes work moto repeats for nothing:

- **EventBridge:** every event sent to every target builds a new JSONPath parser (a parser
  generator run) for the default input paths, even when the target has no input transformer.
  The parse of a path is a pure function of the text: it is cached.
- **Every request:** moto finds the service of a request by listing its own package folder on
  disk (a directory read and a ``stat`` per entry), under a lock. The list is fixed once moto is
  installed: it is read once.
- **DynamoDB:** a query on a table's key walks and sorts every item of the table to find the
  partition's, so a query's cost grew with the catalog (one query per upload: quadratic over a
  burst). A query without an index now looks at its own partition only, which is what it keeps.
- **SQS receives:** every message received read the queue's retention through its full attribute
  list (each attribute's name converted, the queue's messages counted), three times; and its
  receipt handle took 185 draws. The retention is read as it is; the handle is drawn at once.
- **DynamoDB updates:** the check that each section (SET, REMOVE, ADD, DELETE) appears once
  walked the whole expression again at every node of it: one walk now, same errors.
- **DynamoDB answers:** an item operation's result is already held in the wire's shape (typed
  attribute values); moto's serializer walked it member by member, trying several spellings of
  each key, which cost more than the operation (a query of 20 items: 25 ms of 6 ms-work). It is
  written as it is when it holds only plain JSON; binary attributes and anything else still go
  through moto's serializer.
- **DynamoDB update expressions:** parsed twice per request (the text is the same for every
  upload: values go in placeholders), now once per text; and the validator's ten passes asked
  of every node whether it is a kind they handle (an abstract-class isinstance), now once per
  pair of classes.

Applied only by the local stack, to the moto server it runs (in its own process, or in its own
when handlers run in threads); a test using moto through ``mock_aws`` keeps moto as it is.
"""

from __future__ import annotations

import functools
import inspect
import string
import threading
from typing import Any

_applied = False
_lock = threading.Lock()


def speed_up_moto() -> None:
    """Apply the patches once per process (idempotent)."""
    global _applied
    with _lock:
        if _applied:
            return
        _cache_jsonpath_parse()
        _cache_moto_modules()
        _query_one_partition()
        _receive_without_attributes()
        _count_update_clauses_once()
        _serialize_items_as_they_are()
        _parse_update_expressions_once()
        _applied = True


def _cache_jsonpath_parse() -> None:
    import jsonpath_ng.ext

    # moto.events.utils imports ``parse`` from this module inside the function, on each call
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)


def _cache_moto_modules() -> None:
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


_scope = threading.local()


def _query_one_partition() -> None:
    from moto.dynamodb.models.table import Table

    all_items, query = Table.all_items, Table.query
    # the backend passes index_name by position: its place among the arguments after hash_key
    position = list(inspect.signature(query).parameters).index("index_name") - 2

    def partition_items(self: Table) -> list[Any]:
        if getattr(_scope, "table", None) is not self:
            return all_items(self)
        partition = self.items.get(_scope.hash_key)
        if partition is None:
            return []
        items = list(partition.values()) if self.range_key_attr else [partition]
        # the same order as moto's own all_items
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    def query_one_partition(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[position] if len(args) > position else kwargs.get("index_name")
        if index_name or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        _scope.table, _scope.hash_key = self, hash_key
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _scope.table = _scope.hash_key = None

    Table.all_items = partition_items
    Table.query = query_one_partition


def _receive_without_attributes() -> None:
    from moto.sqs import models

    def retained(self: models.SQSBackend, queue_name: str, message: models.Message) -> bool:
        # moto's own reads the retention through GetQueueAttributes, which builds every attribute
        # of the queue (a name conversion each, a count of its messages) three times per message
        queue = self.get_queue(queue_name)
        return queue.message_retention_period + message.sent_timestamp / 1000 > models.unix_time()

    def receipt_handle() -> str:
        # the same 185 random lowercase letters, drawn in one call rather than 185
        return "".join(models.random.choices(string.ascii_lowercase, k=185))

    models.SQSBackend.is_message_valid_based_on_retention_period = retained
    models.generate_receipt_handle = receipt_handle


def _count_update_clauses_once() -> None:
    from moto.dynamodb.exceptions import TooManyClauses
    from moto.dynamodb.parsing import ast_nodes as ast
    from moto.dynamodb.parsing.validators import ActionCountValidator

    kinds = ((ast.UpdateExpressionAddClause, "ADD"), (ast.UpdateExpressionRemoveClause, "REMOVE"))
    kinds += ((ast.UpdateExpressionSetClause, "SET"),)

    def counts(node: Any) -> list[int]:
        """What ``node.find_clauses([kind])`` would find, per kind, checking every expression
        node on the way in moto's order (children first): one walk, where moto's validator walks
        each node's subtree again at every node of an update expression."""
        found = [0] * len(kinds)
        for child in node.children or []:
            below = counts(child) if isinstance(child, ast.Node) else None
            descends = below is not None and isinstance(child, (ast.Expression, ast.UpdateExpressionFunction))
            for i, (kind, _) in enumerate(kinds):
                if type(child) is kind:
                    found[i] += 1
                elif descends:
                    found[i] += below[i]
        if isinstance(node, ast.UpdateExpression):
            for (_, name), n in zip(kinds, found, strict=True):
                if n > 1:
                    raise TooManyClauses(name)
        return found

    def traverse(self: ActionCountValidator, node: Any) -> Any:
        if isinstance(node, ast.Node):
            counts(node)
        return node

    ActionCountValidator.traverse = traverse


def _parse_update_expressions_once() -> None:
    from moto.dynamodb.parsing import ast_nodes as ast
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    # The parse of an update expression is a pure function of its text, and every user of the
    # tree reads it (the validator works on a deep copy of its own): each text is parsed once,
    # where moto parsed it twice per request. The stack writes a few texts with placeholders.
    make = UpdateExpressionParser.make.__func__
    parsed = functools.lru_cache(maxsize=256)(lambda cls, text: make(cls, text))
    UpdateExpressionParser.make = classmethod(lambda cls, text: parsed(cls, text))

    # Each of the validator's ten passes asks of every node of the tree whether it is a kind the
    # pass handles (an isinstance against abstract classes, slow in Python): the answer depends on
    # the pass and the node's class only, so it is asked once per pair of classes.
    handles: dict[tuple[type, type], bool] = {}

    def handled(traverser: ast.DepthFirstTraverser, node: Any) -> bool:
        pair = (type(traverser), type(node))
        if pair not in handles:
            handles[pair] = isinstance(node, traverser.nodes_to_be_processed())
        return handles[pair]

    def traverse_node_recursively(self: ast.DepthFirstTraverser, node: Any, child_id: int = -1) -> Any:
        if isinstance(node, ast.Node):
            parent_node = node.parent
            if node.children is not None:
                for i, child_node in enumerate(node.children):
                    self.pre_processing_of_child(node, i)
                    self.traverse_node_recursively(child_node, i)
            if handled(self, node):
                node = self.process(node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
        return node

    ast.DepthFirstTraverser.traverse_node_recursively = traverse_node_recursively


#: DynamoDB operations whose result moto already holds in the wire's shape (items as typed
#: attribute values, counts, keys): the fast path below writes them as they are
_ITEM_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem"})


def _plain_json(value: Any) -> bool:
    """Only what JSON writes as it is: no bytes (a blob is base64'd by the serializer), no
    timestamps, no None (the serializer leaves such members out)."""
    if isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    return False


def _serialize_items_as_they_are() -> None:
    from moto.core.serialize import JSONSerializer

    serialize_result = JSONSerializer._serialize_result

    def fast(self: JSONSerializer, resp: Any, result: Any) -> Any:
        # moto's serializer walks the output shape member by member, trying several spellings of
        # each key on every attribute value of every item: most of a DynamoDB request's time
        operation = self.operation_model
        if (
            operation.service_model.service_name == "dynamodb"
            and operation.name in _ITEM_OPERATIONS
            and isinstance(result, dict)
            and set(result) <= set(operation.output_shape.members)
            and _plain_json(result)
        ):
            return self._serialized_result_to_response(resp, result, operation.output_shape, result)
        return serialize_result(self, resp, result)

    JSONSerializer._serialize_result = fast


def serve_dynamodb_requests_whole() -> None:
    """One DynamoDB request at a time in this process, as DynamoDB's own item writes are atomic.

    moto's UpdateItem of an absent item stores the bare key first and applies the update to it in
    place, so a GetItem served by another thread of the server meanwhile finds an item with its keys
    only (the API answered 500 on such a round), and two UpdateItems of one new item can both create
    it. The stack's processes call the emulator concurrently; moto holds the interpreter lock for
    nearly all of a request anyway, so serving them one by one costs little. Idempotent."""
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.call_action, "_imgpipe_whole", False):
        return
    call_action = DynamoHandler.call_action
    lock = threading.Lock()

    @functools.wraps(call_action)
    def whole(self: DynamoHandler) -> Any:
        with lock:
            return call_action(self)

    whole._imgpipe_whole = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = whole  # type: ignore[method-assign]


def refuse_empty_part_etags_like_s3() -> None:
    """A CompleteMultipartUpload whose part has an empty ETag is S3's InvalidPart (400); moto read
    the element's text without looking and answered 500. The API passes the client's part list
    on, so the emulator's 500 became the API's. Idempotent."""
    from xml.dom import minidom

    from moto.s3.exceptions import InvalidPartOrder
    from moto.s3.responses import S3Response

    if getattr(S3Response._complete_multipart_body, "_imgpipe_like_s3", False):
        return

    def text(part: Any, tag: str) -> str:
        found = part.getElementsByTagName(tag)
        return found[0].firstChild.wholeText if found and found[0].firstChild is not None else ""

    def complete_multipart_body(self: S3Response, body: bytes) -> Any:
        prev = 0
        for p in minidom.parseString(body).getElementsByTagName("Part"):
            pn = int(text(p, "PartNumber"))
            if pn <= prev:
                raise InvalidPartOrder()
            yield pn, text(p, "ETag")  # "" matches no part: InvalidPart, as S3 answers

    complete_multipart_body._imgpipe_like_s3 = True  # type: ignore[attr-defined]
    S3Response._complete_multipart_body = complete_multipart_body  # type: ignore[method-assign]


def prepare_moto() -> None:
    """Everything the local stack changes in moto: the speed-ups above, DynamoDB requests served
    whole (:func:`serve_dynamodb_requests_whole`), a part with an empty ETag refused as S3 refuses
    it (:func:`refuse_empty_part_etags_like_s3`), presigned POSTs answered
    with the headers S3 sends, presigned PUTs refused without their signed headers
    (imgpipe_tools.local.frontdoor), and Cognito's RevokeToken (imgpipe_tools.local.revocation)."""
    from imgpipe_tools.local.frontdoor import answer_posts_like_s3, require_signed_headers_like_s3
    from imgpipe_tools.local.revocation import revoke_tokens_like_cognito

    speed_up_moto()
    serve_dynamodb_requests_whole()
    refuse_empty_part_etags_like_s3()
    answer_posts_like_s3()
    require_signed_headers_like_s3()
    revoke_tokens_like_cognito()


class EmulatorServer:
    """moto's server app behind :class:`BrowserCors`, served by werkzeug's threaded server on a
    thread of this process (what ``moto.server.ThreadedMotoServer`` does, with the CORS layer)."""

    def __init__(self, port: int = 0) -> None:
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        from imgpipe_tools.local.browser_cors import BrowserCors

        try:  # keeps S3 metadata headers with underscores, as moto's own server does
            from moto.moto_server.werkzeug_app import MotoRequestHandler as handler
        except ImportError:  # pragma: no cover - a moto without it serves as werkzeug does
            handler = None
        app = BrowserCors(DomainDispatcherApplication(create_backend_app))
        self._server = make_server("127.0.0.1", port, app, threaded=True, request_handler=handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="imgpipe-moto", daemon=True)
        self._thread.start()
        host, bound = self._server.server_address[:2]
        self.endpoint = f"http://{host}:{bound}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class EmulatorProcess:
    """moto in a process of its own (``python -m imgpipe_tools.local.emulator``), so that its work
    does not share an interpreter lock with the runtime that dispatches the invocations."""

    def __init__(self, port: int = 0) -> None:
        import subprocess
        import sys

        self._proc = subprocess.Popen(
            [sys.executable, "-m", "imgpipe_tools.local.emulator", "--port", str(port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()  # "listening on http://127.0.0.1:<port>"
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"the moto server did not start (exit code {self._proc.returncode}): {line!r}")
        self.endpoint = line.removeprefix("listening on ")

    def stop(self) -> None:
        import subprocess

        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


def main() -> None:
    import argparse
    import logging
    import os
    import signal
    import sys

    from imgpipe_tools.local.processes import exit_with_parent

    parser = argparse.ArgumentParser(description="moto for imgpipe's local stack (run by it)")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    exit_with_parent(os.getppid())
    prepare_moto()
    # Not even errors: moto answers 500 when two requests change one DynamoDB item at once (its
    # models are not thread-safe), botocore retries, and the traceback would only alarm
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    server = EmulatorServer(args.port)
    print(f"listening on {server.endpoint}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Ctrl-C at a terminal reaches the whole process group: the stack ends us when it is done
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        signal.pause()  # until the stack's SIGTERM
    except SystemExit:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
