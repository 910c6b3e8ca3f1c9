"""The manual authenticator: the user (or their scripts) publishes the challenges.

With ``--manual-auth-hook`` each challenge runs the hook with Certbot's
``CERTBOT_*`` variables, so existing scripts keep working unchanged;
without it the user is shown what to publish and the run pauses until they
confirm. A non-interactive run without an auth hook cannot work, so it
fails in ``prepare``, before any order is placed.
"""

from __future__ import annotations

from certkernel.plugins.manual import hooks, instructions
from certkernel.sdk import Authenticator, Challenge, MissingCommandlineFlag, PluginError


def _key(chall: Challenge) -> tuple[str, str, str]:
    return (chall.identifier, chall.type, chall.token)


class Manual(Authenticator):
    """Authenticate through manual configuration or custom shell scripts.
    When using shell scripts, an authenticator script must be provided. The
    environment variables available for use in the script are CERTBOT_DOMAIN,
    CERTBOT_VALIDATION, CERTBOT_TOKEN (http-01 only),
    CERTBOT_REMAINING_CHALLENGES, CERTBOT_ALL_DOMAINS and, for the cleanup
    script, CERTBOT_AUTH_OUTPUT (the auth script's standard output)."""

    name = "manual"
    version = "1.0.0"

    def __init__(self) -> None:
        self._auth_output: dict[tuple[str, str, str], str] = {}
        self._shown = 0  # instructions shown so far in this run (for the "in addition" note)

    def _hook(self, name: str) -> str:
        value = self.options.get(name)
        return str(value).strip() if value else ""

    def prepare(self) -> None:
        if self.settings.get("non_interactive") and not self._hook("auth-hook"):
            raise MissingCommandlineFlag(
                "An authentication script must be provided with --manual-auth-hook when "
                "using the manual plugin non-interactively.",
                data={"flag": "--manual-auth-hook"},
            )

    def get_chall_pref(self, domain: str) -> list[str]:
        if domain.startswith("*."):
            return ["dns-01"]
        return ["http-01", "dns-01"]

    @staticmethod
    def _env(chall: Challenge, index: int, challenges: list[Challenge]) -> dict[str, str]:
        env = {
            "CERTBOT_DOMAIN": chall.identifier,
            "CERTBOT_VALIDATION": chall.validation,
            "CERTBOT_REMAINING_CHALLENGES": str(len(challenges) - index - 1),
            "CERTBOT_ALL_DOMAINS": ",".join(c.identifier for c in challenges),
        }
        if chall.type == "http-01":
            env["CERTBOT_TOKEN"] = chall.token
        return env

    def perform(self, challenges: list[Challenge]) -> None:
        for chall in challenges:
            if chall.type not in ("http-01", "dns-01"):
                raise PluginError(
                    f"the manual plugin answers http-01 and dns-01, not {chall.type} "
                    f"for {chall.identifier}"
                )
        hook = self._hook("auth-hook")
        for index, chall in enumerate(challenges):
            if hook:
                self._run_auth(hook, chall, self._env(chall, index, challenges))
            else:
                self.kernel.show_message(instructions.text(chall, self._shown), pause=True)
                self._shown += 1

    def _run_auth(self, hook: str, chall: Challenge, env: dict[str, str]) -> None:
        result = hooks.run_hook(hook, env, cancelled=lambda: self.cancelled)
        if result.stderr.strip():
            self.kernel.log("info", f"manual: auth hook stderr: {hooks.tail(result.stderr)}")
        if result.returncode != 0:
            # Certbot reports a failing auth hook and goes on: the CA then
            # rejects that one challenge, and --allow-subset-of-names can
            # drop the name while the others are still validated.
            detail = hooks.tail(result.stderr) or hooks.tail(result.stdout) or "no output"
            self.kernel.log(
                "warning",
                f"manual: --manual-auth-hook failed for {chall.identifier} "
                f"(exit status {result.returncode}): {detail}",
            )
        self._auth_output[_key(chall)] = result.stdout.strip()

    def cleanup(self, challenges: list[Challenge]) -> None:
        hook = self._hook("cleanup-hook")
        for index, chall in enumerate(challenges):
            output = self._auth_output.pop(_key(chall), None)
            if not hook:
                continue
            env = self._env(chall, index, challenges)
            env["CERTBOT_AUTH_OUTPUT"] = output or ""
            try:
                result = hooks.run_hook(hook, env, cancelled=lambda: self.cancelled)
            except PluginError as exc:
                self.kernel.log("warning", f"manual: cleanup hook for {chall.identifier}: {exc}")
                continue
            if result.returncode != 0:
                # Certbot reports a failing cleanup hook and goes on: the
                # certificate may already be issued, and other challenges
                # still need their cleanup.
                self.kernel.log(
                    "warning",
                    f"manual: --manual-cleanup-hook failed for {chall.identifier} (exit status "
                    f"{result.returncode}): {hooks.tail(result.stderr) or 'no output'}",
                )
