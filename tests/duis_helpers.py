"""DUIS alert documents for the tests: the shapes the DCC sends, built from parts."""

from __future__ import annotations

from xml.etree import ElementTree

NS = "http://www.dccinterface.co.uk/ServiceUserGateway"
DEVICE = "00-DB-12-34-56-78-90-A0"
USER = "90-B3-D5-1F-30-01-00-00"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def device_alert(
    code: str = "8014",
    *,
    when: str = "2024-05-01T12:00:00.250Z",
    originator: str = DEVICE,
    throttle: str = "",
    payload: str = "3QAAAAAAAE0RAAAAAN8JAwAAAAAAAAfjCLwzrP==",
    signature: str = "",
) -> str:
    """A pretty-printed DeviceAlertMessage with the header in the DCC's order."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<sr:Response xmlns:sr="{NS}" xmlns:xsi="{XSI}" schemaVersion="5.1">
  <sr:Header>
    <sr:RequestID>{USER}:{originator}:1000</sr:RequestID>
    <sr:ResponseID>{originator}:{USER}:1001</sr:ResponseID>
    <sr:ResponseCode>E0</sr:ResponseCode>
    <sr:ResponseDateTime>{when}</sr:ResponseDateTime>
  </sr:Header>
  <sr:Body>
    <sr:DeviceAlertMessage>
      <sr:AlertCode>{code}</sr:AlertCode>{throttle}
      <sr:GBCSPayload>{payload}</sr:GBCSPayload>
    </sr:DeviceAlertMessage>
  </sr:Body>{signature}
</sr:Response>
"""


def dcc_alert(code: str = "N24", *, when: str = "2024-05-01T12:00:00Z", throttle: str = "") -> str:
    """A compact DCCAlertMessage, as a machine without pretty-printing writes it."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><sr:Response xmlns:sr="{NS}" schemaVersion="5.1">'
        f"<sr:Header><sr:ResponseID>{DEVICE}:{USER}:7</sr:ResponseID>"
        f"<sr:ResponseCode>E0</sr:ResponseCode><sr:ResponseDateTime>{when}</sr:ResponseDateTime>"
        f"</sr:Header><sr:Body><sr:DCCAlertMessage><sr:DCCAlertCode>{code}</sr:DCCAlertCode>"
        f"{throttle}<sr:DCCAlert><sr:UpdateHANDeviceLogResult>"
        f"<sr:UpdateHANDeviceLogServiceRequestID>{USER}:{DEVICE}:1660925173833"
        f"</sr:UpdateHANDeviceLogServiceRequestID></sr:UpdateHANDeviceLogResult></sr:DCCAlert>"
        f"</sr:DCCAlertMessage></sr:Body></sr:Response>"
    )


def message_children(xml: bytes | str) -> list[tuple[str, str]]:
    """(local name, text) of the alert message's children, in document order."""
    root = ElementTree.fromstring(xml)
    body = root.find(f"{{{NS}}}Body")
    assert body is not None
    (message,) = list(body)
    return [(child.tag.rpartition("}")[2], (child.text or "").strip()) for child in message]
