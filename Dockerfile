# The `wharf` image: the one self-contained binary (portal assets embedded) on a slim base.
#   docker build -t wharf .
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN rustup target add wasm32-unknown-unknown
COPY . .
# The build script builds the portal's browser bundle and embeds it: no other tool is needed.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release -p wharf \
 && cp target/release/wharf /usr/local/bin/wharf

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/wharf /usr/local/bin/wharf
ENV WHARF_LISTEN=0.0.0.0:5000 \
    WHARF_DATA_DIR=/var/lib/wharf
RUN mkdir -p /var/lib/wharf && chown 65532:65532 /var/lib/wharf && chmod 700 /var/lib/wharf
USER 65532:65532
VOLUME /var/lib/wharf
EXPOSE 5000
ENTRYPOINT ["wharf"]
CMD ["serve"]
