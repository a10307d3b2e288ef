"""The commented configuration file `station config init` writes, for a system or for a running Entra emulator."""

from __future__ import annotations

import json
from pathlib import Path

from station.errors import ConfigError
from station.files import write_private_atomically

EXAMPLE = '''\
# Station configuration. Every key may also be set by an environment variable
# STATION_<SECTION>_<KEY>, e.g. STATION_STORE_URL or STATION_ENROLMENT_PIN_LENGTH.

[station]
# id = "kiosk-1"              # unique per station in a fleet (default: the host name)
name = "Enrolment station"
language = "{language}"               # en, de, fr, es or nl: the dashboard and remedies, and the PIN letters
                              # of people whose preferredLanguage is unset or another language
{state_line}
{runtime_line}

[tenant]
tenant_id = "{tenant_id}"     # Entra directory (tenant) id
client_id = "{client_id}"     # app registration with UserAuthMethod-Passkey.ReadWrite.All,
                              # User.Read.All, GroupMember.Read.All, Policy.Read.All (application)
client_secret_file = "{secret_file}"  # a file (mode 0600) or a systemd credential name
# certificate_file = "/etc/station/app.crt"   # certificate auth instead of a secret
# private_key_file = "/etc/station/app.key"
authority_host = "{authority_host}"
graph_host = "{graph_host}"
graph_version = "v1.0"        # or "beta" (longer creation-options challenges)
{ca_line}

[store]
url = "{store_url}"   # sqlite:////ABSOLUTE/PATH (one station; four slashes) or postgresql://USER@HOST/DB

[enrolment]
pin_length = 8
pin_alphabet = "0123456789"
pin_change = "when_supported" # force a PIN change at first use on keys that can (authenticatorConfig);
                              # others are enrolled and their letter asks for it. "require": refuse them
# min_pin_length = 8          # also set on the key where it can be ("when_supported"), or:
# min_pin_length_mode = "require"   # refuse keys that cannot enforce it
required_features = ["clientPin", "rk"]   # what enrolment needs; add e.g. "credMgmt" to demand more
allowed_aaguids = []          # empty: any FIDO2 key model
used_key = "refuse"           # or "reset": wipe a key that already has a PIN (needs re-insert + touch)
max_attempts = 3              # failed attempts per person (each may use up a key) before they are marked failed
display_name_template = "{{model}} {{date}}"
escrow_public_key = "{escrow_public}"   # PINs are sealed to this key; keep the private key offline
show_pin = false              # show the PIN on the dashboard (disappears when the key is removed)
attestation = "off"           # "verify": refuse keys whose attestation FIDO metadata does not vouch for

[metrics]                     # Prometheus metrics (README: Monitoring); off while both are unset
# listen = "127.0.0.1:9464"   # serve /metrics here (loopback only, unless allow_remote = true)
# textfile = "/var/lib/prometheus/node-exporter/station.prom"   # for node_exporter's textfile collector

[lifecycle]
on_leaver = "report"          # key holders gone from the directory or the rollout group, at 'station sync':
                              # "report" them, or "revoke" their keys' passkeys in Entra ID

[delegation]                  # keys handed out for the person to register (station handout; README)
tap_lifetime_minutes = 480    # the Temporary Access Pass's lifetime; within the tenant's TAP policy limits
tap_usable_once = true        # the pass signs in once
# default_aaguid = ""         # model of the keys handed out, when neither the inventory nor --aaguid says
check_every_minutes = 15      # the daemon marks handed-out keys active or expired this often (0: never)
prepare_key = false           # the station resets each handed-out key and gives it a PIN for the letter
'''


def emulator_config(info_path: Path, directory: Path, language: str = "en") -> str:
    """A complete configuration for a running Entra emulator, with its secret and escrow keys in ``directory``
    (``language``: the station's)."""
    from station.enroll.escrow import PUBLIC_KEY_NAME, generate_keypair

    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
        authority, tenant_id = info["authority"].rstrip("/").rsplit("/", 1)
        graph_host = info["graph_url"].rstrip("/")
    except (OSError, ValueError, KeyError, AttributeError) as e:
        raise ConfigError(f"{info_path} is not an emulator info file ({e})",
                          remedy="Write one with 'station emulate entra --info-json FILE'.") from None
    directory = directory.absolute()
    secret = write_private_atomically(directory / "client-secret", info["client_secret"])
    public = directory / PUBLIC_KEY_NAME
    if not public.exists():
        public, _private = generate_keypair(directory)
    return render_config(
        tenant_id=tenant_id, client_id=info["client_id"], secret_file=str(secret), authority_host=authority,
        graph_host=graph_host, ca_file=info["ca_file"], store_url=f"sqlite:///{directory / 'station.db'}",
        escrow_public=str(public), state_dir=None, runtime_dir=None, language=language,
    )


def render_config(
    *, tenant_id: str = "", client_id: str = "", secret_file: str = "/etc/station/client-secret",
    authority_host: str = "https://login.microsoftonline.com", graph_host: str = "https://graph.microsoft.com",
    ca_file: str = "", store_url: str = "sqlite:////var/lib/station/station.db",
    escrow_public: str = "/etc/station/escrow-public.pem", state_dir: str | None = "/var/lib/station",
    runtime_dir: str | None = "/run/station", language: str = "en",
) -> str:
    """The commented configuration file; the defaults are those of a system installation.

    A ``None`` directory is left to its default ($STATION_STATE_DIR / $STATION_RUNTIME_DIR, else per user).
    """
    state_line = (f'state_dir = "{state_dir}"' if state_dir else '# state_dir = "/var/lib/station"') + \
        "    # the store (SQLite) and the kiosk log"
    runtime_line = (f'runtime_dir = "{runtime_dir}"' if runtime_dir else '# runtime_dir = "/run/station"') + \
        "    # the control socket (station status, station tui)"
    return EXAMPLE.format(
        tenant_id=tenant_id, client_id=client_id, secret_file=secret_file, authority_host=authority_host,
        graph_host=graph_host, ca_line=f'ca_file = "{ca_file}"' if ca_file else '# ca_file = ""',
        store_url=store_url, escrow_public=escrow_public, state_line=state_line, runtime_line=runtime_line,
        language=language,
    )
