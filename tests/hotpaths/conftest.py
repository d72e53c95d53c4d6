from __future__ import annotations

import json


def incident(n: int) -> bytes:
    """A new resolved ServiceNow incident, as the business rule posts it."""
    return json.dumps(
        {
            "sys_id": f"sys{n}",
            "number": f"INC{n:07d}",
            "sys_class_name": "incident",
            "state": "6",
            "caller_id": {"value": f"user{n}"},
            "caller_id.email": f"person{n}@example.com",
            "resolved_at": "2026-11-21 16:02:33",
            "short_description": "Printer",
        }
    ).encode()
