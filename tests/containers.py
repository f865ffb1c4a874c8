"""Podman as it works on our build machines (see ../shared/PITFALLS.md), for every container test: one place for its
settings, the stand-in base images and the project's image.

- Rootful podman with `runc` (crun refuses the hybrid cgroup layout here), ulimits it may set, and its own storage
  under `STATE` (kept between runs: the base images are cached there, the tests remove what else they create).
- No registry is reachable, so the bases are made locally from one debootstrap minbase of Debian 12:
  `PYTHON_BASE`, a stand-in for `python:3.11-slim` (the Dockerfile's FROM), and `STOCK_DEBIAN`, a stock Debian 12 with
  only `python3 python3-venv git ca-certificates` and its EXTERNALLY-MANAGED marker kept (PEP 668, as shipped).
- Outbound TLS is re-signed by a local CA: a step that runs pip gets the host's CA bundle and a pip.conf naming it as
  bind mounts (`TLS_MOUNTS`), which never stay in an image.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

STATE = Path(os.environ.get("SPACESHIP_CONTAINERS_STATE", "/var/tmp/spaceship-clf"))
MINBASE = "localhost/spaceship-clf/debian-minbase:bookworm"
PYTHON_BASE = "docker.io/library/python:3.11-slim"  # named fully: podman resolves no short names here
STOCK_DEBIAN = "localhost/spaceship-clf/debian-stock:12"
FRONT_STANDIN = "localhost/spaceship-clf/nginx-standin:12"  # Debian's nginx in place of the compose front's official image
PROMETHEUS_STANDIN = "localhost/spaceship-clf/prometheus-standin:12"  # Debian's prometheus in place of prom/prometheus
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
MIRROR = "http://deb.debian.org/debian"
PODMAN_COMPOSE = "podman-compose==1.6.0"

# what each local base adds to the minbase (a Containerfile body after FROM)
BASES = {
    PYTHON_BASE: """RUN apt-get update && apt-get install -y --no-install-recommends python3.11 python3-venv python3-pip ca-certificates \\
 && rm -rf /var/lib/apt/lists/* /usr/lib/python3.11/EXTERNALLY-MANAGED \\
 && ln -s /usr/bin/python3.11 /usr/local/bin/python && ln -s /usr/bin/python3.11 /usr/local/bin/python3 \\
 && ln -s /usr/bin/pip3 /usr/local/bin/pip
CMD ["python3"]""",
    STOCK_DEBIAN: """RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv git ca-certificates \\
 && rm -rf /var/lib/apt/lists/* && test -f /usr/lib/python3.11/EXTERNALLY-MANAGED""",
    FRONT_STANDIN: """RUN apt-get update && apt-get install -y --no-install-recommends nginx-light gettext-base \\
 && rm -rf /var/lib/apt/lists/*
COPY docker-entrypoint.sh /
ENTRYPOINT ["sh", "/docker-entrypoint.sh"]""",
    PROMETHEUS_STANDIN: """RUN apt-get update && apt-get install -y --no-install-recommends prometheus && rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["/usr/bin/prometheus"]""",
}
# files beside a base's Containerfile
BASE_FILES = {FRONT_STANDIN: {"docker-entrypoint.sh": r"""# What the official nginx image's entrypoint does before it starts nginx: source the executable
# /docker-entrypoint.d/*.envsh, then write each /etc/nginx/templates/*.template with the environment's variables
# substituted (20-envsubst-on-templates.sh) into NGINX_ENVSUBST_OUTPUT_DIR.
set -eu
for f in /docker-entrypoint.d/*.envsh; do [ -x "$f" ] && . "$f"; done
defined=$(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/${\1}/p' | tr '\n' ' ')
for template in /etc/nginx/templates/*.template; do
  envsubst "$defined" < "$template" > "${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}/$(basename "$template" .template)"
done
exec nginx -g 'daemon off;'
"""}}



def _write(path: Path, text: str) -> Path:
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True); path.write_text(text)
    return path


@cache
def env() -> dict:
    "The environment for podman, buildah and podman-compose with this machine's settings."
    conf = _write(STATE / "podman" / "containers.conf", '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
                  '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n')
    storage = _write(STATE / "podman" / "storage.conf", f'[storage]\ndriver = "overlay"\ngraphroot = "{STATE}/podman/storage"\n'
                     f'runroot = "{STATE}/podman/run"\n')
    return {**os.environ, "CONTAINERS_CONF": str(conf), "CONTAINERS_STORAGE_CONF": str(storage)}


def podman(*args: str, check: bool = True, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    "Run `podman ARGS` with these settings; output captured as text; a failure shows podman's own words."
    done = subprocess.run(["podman", *args], env=env(), capture_output=True, text=True, timeout=timeout, **kw)
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


@cache
def unusable() -> str | None:
    "Why podman cannot run containers here, or None when it can."
    for tool in ("podman", "runc", "debootstrap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install podman buildah runc debootstrap uidmap)"
    if os.geteuid() != 0:
        return "these container tests use rootful podman"
    info = podman("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False, timeout=60)
    return None if info.returncode == 0 else f"podman info failed: {info.stderr.strip()[-300:]}"


def podman_compose() -> str:
    "podman-compose (pip), in a venv of its own under `STATE`, installed on first use."
    exe = STATE / "podman-compose" / "bin" / "podman-compose"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(exe.parents[1])], check=True, timeout=120)
        subprocess.run([str(exe.parent / "pip"), "install", "--quiet", PODMAN_COMPOSE], check=True, capture_output=True, timeout=600)
    return str(exe)


def exists(image: str) -> bool:
    return podman("image", "exists", image, check=False).returncode == 0


def _minbase() -> str:
    "Debian 12 minbase from debootstrap, imported once (about 30 s), the root of every local base."
    if not exists(MINBASE):
        root = STATE / "minbase"
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(root), MIRROR], check=True, capture_output=True, timeout=900)
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        podman("import", "--change", 'CMD ["bash"]', "-", MINBASE, stdin=tar.stdout)
        tar.wait(); shutil.rmtree(root, ignore_errors=True)
    return MINBASE


def base(image: str) -> str:
    "One of `BASES`, built from the minbase unless this machine has it from the same recipe (a label says which)."
    files = {"Containerfile": f"FROM {_minbase()}\n{BASES[image]}\n", **BASE_FILES.get(image, {})}
    recipe = hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()[:16]
    label = podman("image", "inspect", "--format", '{{index .Labels "spaceship.recipe"}}', image, check=False).stdout.strip()
    if label != recipe:
        folder = STATE / "bases" / image.rsplit("/", 1)[-1].replace(":", "-")
        for name, text in files.items(): _write(folder / name, text)
        podman("build", "--format", "docker", "--label", f"spaceship.recipe={recipe}", "-t", image, str(folder), timeout=900)
    return image


def tls_mounts() -> list[str]:
    "podman `-v` options giving pip the host's CA for one step (nothing of it stays in an image or a container)."
    if not HOST_CA.exists():
        return []
    conf = _write(STATE / "podman" / "pip.conf", "[global]\ncert = /run/host-ca.crt\n")
    return ["-v", f"{HOST_CA}:/run/host-ca.crt:ro", "-v", f"{conf}:/etc/pip.conf:ro"]


# for `podman run`: Poetry's HTTP client reads these, not pip.conf
TLS_ENV = ["-e", "REQUESTS_CA_BUNDLE=/run/host-ca.crt", "-e", "SSL_CERT_FILE=/run/host-ca.crt"] if HOST_CA.exists() else []


def clean_clone(source: Path, dest: Path) -> Path:
    "A clone of the committed tree (never the working copy with its .venv, data or uncommitted files)."
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(source), str(dest)], check=True, timeout=120)
    return dest


def build(context: Path, tag: str, *args: str) -> float:
    "Build `context`'s Dockerfile as `tag` (docker format: OCI drops HEALTHCHECK); the seconds it took."
    base(PYTHON_BASE)
    start = time.monotonic()
    podman("build", "--format", "docker", *tls_mounts(), "-t", tag, *args, str(context), timeout=1800)
    return time.monotonic() - start


def own_layers_mb(image: str, below: str = PYTHON_BASE) -> float:
    "MB that `image` adds above its base `below` (compare these, not totals: the stand-in base is larger than the official one)."
    def inspect(name, field):
        return podman("image", "inspect", "--format", field, name).stdout
    layers = "{{range .RootFS.Layers}}{{println .}}{{end}}"
    assert set(inspect(image, layers).split()) >= set(inspect(below, layers).split()), f"{image} is not built on {below}"
    return (int(inspect(image, "{{.Size}}")) - int(inspect(below, "{{.Size}}"))) / 1e6
