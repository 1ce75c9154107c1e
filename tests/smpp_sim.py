"""An SMPP 3.4 SMSC for the tests, run as its own process: ``python tests/smpp_sim.py PORT LOG``.

Built on smpp34 (PyPI; a Rust SMPP server with Python bindings), it behaves as a carrier does
for chosen numbers, so failures can be tested for real (Kannel's ``smsc = fake`` only succeeds):

* a destination ending in ``999`` is refused at submit (``ESME_RINVDSTADR``: Kannel reports
  DLR type 16, "SMSC rejected");
* one ending in ``998`` is accepted, then its delivery receipt says ``UNDELIV`` (type 2);
* every other one is accepted and delivered (``DELIVRD``, type 1).

Each submit is appended to LOG as a JSON line (destination, decoded text, verdict), so a test
can read what reached the carrier.  SIGTERM stops it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import sys
from pathlib import Path
from typing import Any

import smpp34

RECEIPT_DELAY_S = 0.05  # a receipt sent before the submit_sm_resp would be one Kannel cannot match


def _text(event: Any) -> str:
    body = bytes(event.short_message or b"")
    if not body:
        for tlv in getattr(event, "tlvs", None) or []:
            if tlv.tag == smpp34.TLV_MESSAGE_PAYLOAD:
                body = bytes(tlv.value)
    if event.esm_class & 0x40 and body:  # a UDH in front: its first byte is its length
        body = body[1 + body[0] :]
    if event.data_coding == 8:
        return body.decode("utf-16-be", errors="replace")
    return body.decode("latin-1")


async def _receipt(esme: Any, event: Any, message_id: str, state: str, err: str) -> None:
    try:
        await _send_receipt(esme, event, message_id, state, err)
    except smpp34.SmppError:
        pass  # the ESME unbound before its receipt: as a carrier would, drop it


async def _send_receipt(esme: Any, event: Any, message_id: str, state: str, err: str) -> None:
    await asyncio.sleep(RECEIPT_DELAY_S)
    body = (
        f"id:{message_id} sub:001 dlvrd:{'001' if state == 'DELIVRD' else '000'} submit date:2612071200 "
        f"done date:2612071200 stat:{state} err:{err} text:"
    )
    await esme.deliver_sm(
        event.source_addr,
        body.encode(),
        source_addr=event.destination_addr,
        esm_class=0x04,
        tlvs=[
            smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, message_id.encode() + b"\0"),
            smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, b"\x02" if state == "DELIVRD" else b"\x05"),
        ],
    )


async def serve(port: int, log_path: Path) -> None:
    server = smpp34.Server(host="127.0.0.1", port=port, system_id="SIMSMSC")
    await server.start()
    esmes: dict[Any, Any] = {}
    ids = itertools.count(1)
    tasks: set[asyncio.Task[None]] = set()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    with log_path.open("a", encoding="utf-8") as log:
        while not stop.is_set():
            nxt = asyncio.ensure_future(server.next())
            stopping = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({nxt, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stopping in done:
                nxt.cancel()
                break
            stopping.cancel()
            event = nxt.result()
            if isinstance(event, smpp34.Esme):
                esmes[event.session_id] = event
            elif isinstance(event, smpp34.SubmitSmEvent):
                to = event.destination_addr
                verdict = (
                    "rejected"
                    if to.endswith("999")
                    else "undeliverable"
                    if to.endswith("998")
                    else "delivered"
                )
                log.write(
                    json.dumps({"to": to, "text": _text(event), "verdict": verdict}, ensure_ascii=False)
                    + "\n"
                )
                log.flush()
                if verdict == "rejected":
                    event.reject(smpp34.ESME_RINVDSTADR)
                    continue
                message_id = f"M{next(ids):08d}"
                event.accept(message_id=message_id)
                if event.registered_delivery & 1:
                    state, err = ("UNDELIV", "001") if verdict == "undeliverable" else ("DELIVRD", "000")
                    task = asyncio.create_task(
                        _receipt(esmes[event.session_id], event, message_id, state, err)
                    )
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
    await server.stop()
    await asyncio.sleep(0.3)  # let smpp34's threads finish before the interpreter does


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), Path(sys.argv[2])))
