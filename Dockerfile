# core-rd: build and test on Debian bookworm, then a small non-root runtime image.

FROM debian:bookworm-slim AS build
# The same packages the setup script and CI install; nodejs and npm for the interop tests
# (npm ci fetches node-coap, so this stage needs the network).
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake pkg-config \
       libcoap3-dev libcoap3-bin liblmdb-dev libssl-dev libcmocka-dev iproute2 openssl \
       libjansson-dev libmicrohttpd-dev nodejs npm python3-jsonschema python3-yaml libcurl4-openssl-dev curl \
       etcd-server etcd-client \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    && cmake --build build -j "$(nproc)" \
    && ctest --test-dir build --output-on-failure \
    && cmake --install build --prefix /opt/core-rd

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libcoap3 liblmdb0 libssl3 libjansson4 libmicrohttpd12 libcurl4 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/core-rd --shell /usr/sbin/nologin core-rd \
    && mkdir -p /var/lib/core-rd \
    && chown core-rd:core-rd /var/lib/core-rd
COPY --from=build /opt/core-rd /opt/core-rd
USER core-rd
WORKDIR /var/lib/core-rd
VOLUME ["/var/lib/core-rd"]
# 5683/udp: CoAP. 5684/udp: CoAPS (DTLS), once enabled in the configuration.
EXPOSE 5683/udp 5684/udp
ENTRYPOINT ["/opt/core-rd/bin/core-rd", "--data-dir", "/var/lib/core-rd/data"]
CMD ["--config", "/opt/core-rd/etc/core-rd/core-rd.conf"]
