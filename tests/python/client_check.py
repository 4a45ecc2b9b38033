"""Drives aipermission-mcp with the official MCP Python client.

Run by the integration suite against a stand-in gateway:

    python client_check.py --server BIN --url URL --token TOKEN --mode legacy|auto

In `legacy` mode the client opens with `initialize`; in `auto` mode it
probes `server/discover` first, so the 2026-07-28 path is exercised. Exits
non-zero, naming the failed check, when the server misbehaves.
"""

import argparse
import asyncio
import json
import sys
import urllib.request

from mcp import Client, StdioServerParameters

TOOLS = {
    "list_connector_targets": (True, False, True, False),
    "get_connector_help": (True, False, True, False),
    "get_connector_actions": (True, False, True, False),
    "call_connector_action": (False, True, False, True),
    "get_connector_action_request": (True, False, True, False),
    "list_vault_items": (True, False, True, False),
    "call_vault_action": (False, True, False, True),
    "get_vault_action_request": (True, False, True, False),
    "cancel_vault_action_request": (False, True, False, False),
}


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def text_json(result):
    return json.loads(result.content[0].text)


async def run(options):
    params = StdioServerParameters(
        command=options.server,
        args=["serve"],
        env={
            "AIPERMISSION_API_URL": options.url,
            "AIPERMISSION_API_TOKEN": options.token,
        },
    )
    async with Client(params, mode=options.mode) as client:
        print(f"connected: protocol {client.protocol_version}")
        if options.mode == "auto":
            check(client.protocol_version == "2026-07-28", "auto mode negotiates 2026-07-28")
        else:
            check(client.protocol_version != "2026-07-28", "legacy mode uses initialize")
            check(client.server_info.name == "aipermission", "server name")
            check("list_connector_targets" in (client.instructions or ""), "instructions")

        listed = await client.list_tools()
        names = [tool.name for tool in listed.tools]
        check(names == list(TOOLS), f"tool names {names}")
        for tool in listed.tools:
            hints = tool.annotations
            got = (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint, hints.open_world_hint)
            check(got == TOOLS[tool.name], f"annotations of {tool.name}: {got}")
            check(tool.input_schema.get("type") == "object", f"schema of {tool.name}")
        print(f"tools: {', '.join(names)}")

        targets = await client.call_tool("list_connector_targets", {})
        check(not targets.is_error, "list_connector_targets succeeds")
        check(targets.structured_content["targets"] == text_json(targets), "structured == text")
        print(f"targets: {[t['target_ref'] for t in text_json(targets)]}")

        call = await client.call_tool(
            "call_connector_action",
            {
                "target_ref": "ssh:4:2",
                "action_name": "exec",
                "input": {"command": "uptime"},
                "reason": "Python client check.",
                "idempotency_key": f"py-{options.mode}-1",
            },
        )
        pending = text_json(call)
        check(not call.is_error and pending["status"] == "approval_pending", f"call: {pending}")
        request_id = pending["request_id"]
        print(f"call: {pending['status']}, request {request_id}")

        control = f"{options.url}/__control/requests/{request_id}/approve"
        urllib.request.urlopen(urllib.request.Request(control, method="POST"), timeout=10).read()

        polled = await client.call_tool("get_connector_action_request", {"request_id": request_id})
        done = text_json(polled)
        check(not polled.is_error and done["status"] == "completed", f"poll: {done}")
        check(polled.structured_content == done, "poll structured == text")
        print(f"poll: {done['status']}: {done['display_text'].strip()}")

        invalid = await client.call_tool(
            "call_connector_action",
            {"target_ref": "ssh:4:2", "action_name": "exec"},
        )
        check(invalid.is_error, "a call without idempotency_key is an error")
        check("idempotency_key" in invalid.content[0].text, "the error names idempotency_key")
        print("validation: missing idempotency_key refused")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--mode", choices=["legacy", "auto"], required=True)
    options = parser.parse_args()
    try:
        asyncio.run(run(options))
    except AssertionError as failed:
        print(f"check failed: {failed}", file=sys.stderr)
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
