# syntax=docker/dockerfile:1
# mplat as a container image. mplat is the entrypoint and runs as an unprivileged user;
# registry credentials are never built in but mounted, read-only, when it runs:
#
#   docker build -t mplat .
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/work:ro" \
#     -v ~/.docker/config.json:/home/mplat/.docker/config.json:ro mplat plan
#
# (--user: docker login leaves config.json readable by its owner only; without it the file
# must be readable by the image's user, uid 10001.)
# The base is pinned by digest (tag for people, digest for the build): update both together.

FROM python:3.13-slim-trixie@sha256:9d2e5553305c7c7b0097999bb17187c69b921ccd6bc9d40e4bb5ebe652c00285 AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Build: mplat and its dependencies into a virtual environment, from this checkout.
FROM base AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas/ schemas/
COPY mplat/ mplat/
RUN python3 -m venv /opt/mplat \
    && /opt/mplat/bin/pip install --no-cache-dir . \
    && /opt/mplat/bin/mplat --version

# Run: the environment alone, owned by root and run by a user without privileges.
FROM base
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/mplat \
        --shell /usr/sbin/nologin mplat
COPY --from=build /opt/mplat /opt/mplat
# HOME stays /home/mplat under `docker run --user UID:GID` too (a uid with no passwd entry),
# so ~/.docker/config.json is where the mount puts it whoever runs mplat.
ENV PATH=/opt/mplat/bin:$PATH \
    HOME=/home/mplat
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["mplat"]
CMD ["--help"]
