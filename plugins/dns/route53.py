"""Amazon Route 53 through boto3: the AWS SDK signs requests and finds credentials.

Credentials come from where every AWS tool looks (Certbot's dns-route53
does the same): ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (+
``AWS_SESSION_TOKEN``), ``AWS_PROFILE``, or the shared config/credentials
files. The plugin host gives plugins their state directory as ``HOME``, so
``~/.aws`` is looked up in the home of the user the plugin runs as (from the
password database) unless ``AWS_CONFIG_FILE``/``AWS_SHARED_CREDENTIALS_FILE``
say otherwise.

A TXT name holds one record set; adding or removing one value re-reads the
set and writes it back whole (UPSERT, or DELETE of the exact last set), so a
wildcard and its apex can share a name, and cleanup works in a new process.
Each change is awaited until Route 53 reports it ``INSYNC``.
"""

from __future__ import annotations

import logging
import os
import pwd
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certkernel.plugins.dns.lookup import Nameserver, PublicLookup
from certkernel.plugins.dns.names import zone_candidates
from certkernel.sdk import PluginError

if TYPE_CHECKING:  # types-boto3[route53], in the test extra
    from types_boto3_route53.literals import ChangeActionType
    from types_boto3_route53.type_defs import ChangeBatchTypeDef

log = logging.getLogger(__name__)

TTL = 10
NO_CREDENTIALS = (
    "dns-route53: no AWS credentials found. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
    "(or AWS_PROFILE) in the environment, or put them in ~/.aws/credentials or ~/.aws/config "
    "of the user the plugin runs as (or name the files with AWS_SHARED_CREDENTIALS_FILE/"
    "AWS_CONFIG_FILE)"
)


def _home_aws(name: str) -> str | None:
    try:
        path = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".aws" / name
    except KeyError:
        return None
    return str(path) if path.is_file() else None


class Route53Backend(PublicLookup):
    """One AWS account; zones looked up once per name."""

    provider = "route53"

    def __init__(self, endpoint_url: str = "", change_wait: float = 120.0,
                 resolvers: list[Nameserver] | None = None) -> None:
        import boto3
        import botocore.session

        core = botocore.session.Session()
        for variable, env, name in (("config_file", "AWS_CONFIG_FILE", "config"),
                                    ("credentials_file", "AWS_SHARED_CREDENTIALS_FILE",
                                     "credentials")):
            found = None if os.environ.get(env) else _home_aws(name)
            if found:
                core.set_config_variable(variable, found)
        session = boto3.Session(botocore_session=core)
        try:
            credentials = session.get_credentials()
        except Exception as exc:  # noqa: BLE001 - botocore raises many kinds for bad profiles
            raise PluginError(f"dns-route53: cannot read the AWS configuration: {exc}") from exc
        if credentials is None:
            raise PluginError(NO_CREDENTIALS)
        from botocore.config import Config

        self._client = session.client(
            "route53", endpoint_url=endpoint_url or None, region_name="us-east-1",
            config=Config(retries={"max_attempts": 3, "mode": "standard"},
                          connect_timeout=10, read_timeout=30))
        self._change_wait = change_wait
        super().__init__(resolvers)
        self._zones: list[tuple[str, str]] | None = None

    # -- RecordBackend ----------------------------------------------------

    def find_zone(self, fqdn: str) -> str:
        zones = dict(self._public_zones())
        for candidate in zone_candidates(fqdn, min_labels=2):
            if candidate in zones:
                return candidate
        raise PluginError(
            f"dns-route53: no public hosted zone in this AWS account holds {fqdn} "
            f"(zones: {', '.join(sorted(zones)) or 'none'})"
        )

    def add_txt(self, zone: str, fqdn: str, value: str) -> None:
        current, ttl = self._current(zone, fqdn)
        quoted = _quote(value)
        if quoted in current:
            return
        self._change(zone, "UPSERT", fqdn, [*current, quoted], ttl, f"add TXT {fqdn}")

    def remove_txt(self, zone: str, fqdn: str, value: str) -> None:
        current, ttl = self._current(zone, fqdn)
        quoted = _quote(value)
        if quoted not in current:
            return
        rest = [v for v in current if v != quoted]
        if rest:
            self._change(zone, "UPSERT", fqdn, rest, ttl, f"remove TXT {fqdn}")
        else:
            self._change(zone, "DELETE", fqdn, current, ttl, f"remove TXT {fqdn}")

    # -- internals --------------------------------------------------------

    def _public_zones(self) -> list[tuple[str, str]]:
        if self._zones is None:
            zones: list[tuple[str, str]] = []
            pages = self._api("list hosted zones", lambda: list(
                self._client.get_paginator("list_hosted_zones").paginate()))
            for page in pages:
                for zone in page.get("HostedZones", []):
                    if not zone.get("Config", {}).get("PrivateZone", False):
                        zones.append((zone["Name"].rstrip(".").lower(), zone["Id"]))
            self._zones = zones
        return self._zones

    def _zone_id(self, zone: str) -> str:
        return dict(self._public_zones())[zone]

    def _current(self, zone: str, fqdn: str) -> tuple[list[str], int]:
        answer = self._api(f"read TXT {fqdn}", lambda: self._client.list_resource_record_sets(
            HostedZoneId=self._zone_id(zone), StartRecordName=fqdn, StartRecordType="TXT",
            MaxItems="1"))
        for rrset in answer.get("ResourceRecordSets", []):
            if rrset["Name"].rstrip(".").lower() == fqdn and rrset["Type"] == "TXT":
                return [r["Value"] for r in rrset.get("ResourceRecords", [])], int(rrset.get("TTL", TTL))
        return [], TTL

    def _change(self, zone: str, action: ChangeActionType, fqdn: str, values: list[str],
                ttl: int, what: str) -> None:
        batch: ChangeBatchTypeDef = {"Comment": "certkernel dns-01", "Changes": [{
            "Action": action,
            "ResourceRecordSet": {"Name": fqdn, "Type": "TXT", "TTL": ttl,
                                  "ResourceRecords": [{"Value": v} for v in values]}}]}
        answer = self._api(what, lambda: self._client.change_resource_record_sets(
            HostedZoneId=self._zone_id(zone), ChangeBatch=batch))
        self._wait(answer["ChangeInfo"]["Id"], what)

    def _wait(self, change_id: str, what: str) -> None:
        deadline = time.monotonic() + self._change_wait
        delay = 0.2
        while True:
            info = self._api(what, lambda: self._client.get_change(Id=change_id))["ChangeInfo"]
            if info["Status"] == "INSYNC":
                return
            if time.monotonic() + delay > deadline:
                raise PluginError(f"dns-route53: {what}: change {change_id} still "
                                  f"{info['Status']} after {self._change_wait:.0f} s")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _api(self, what: str, call: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return call()
        except NoCredentialsError as exc:
            raise PluginError(NO_CREDENTIALS) from exc
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", "?"), error.get("Message", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in ("InvalidClientTokenId", "SignatureDoesNotMatch", "AccessDenied",
                        "UnrecognizedClientException", "ExpiredToken") or status in (401, 403):
                raise PluginError(
                    f"dns-route53: AWS rejected the credentials ({code}: {message}) while "
                    f"trying to {what}"
                ) from exc
            raise PluginError(f"dns-route53: {what} failed: {code}: {message}") from exc
        except BotoCoreError as exc:
            raise PluginError(f"dns-route53: cannot reach the Route 53 API: {exc}") from exc


def _quote(value: str) -> str:
    """Route 53 wants TXT values as DNS strings, in double quotes."""
    return f'"{value}"'
