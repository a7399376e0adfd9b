# routelet's image: the agent `routelet` and the plugin `routelet-cni` on Debian 12.
# scripts/image builds it with buildah from bases it makes itself (no registry), and
# tests/manifests/test_image.py keeps this file honest: the build steps must be the ones CI
# runs, and the final stage must install a package for every shared library the two
# binaries load.
#
# Where the binaries come from (--build-arg BINARIES=...):
#   compiled  (the default) built here, from this checkout, exactly as a developer or CI
#             builds them (scripts/setup --build, then the cmake build of scripts/test)
#   prebuilt  taken from the build context's build/controller/routelet and
#             build/cni/routelet-cni, stripped: the ones CI has just built and tested
#             (scripts/image --prebuilt DIR), so CI tests this file's final stage without a
#             second compile
ARG BINARIES=compiled

FROM debian:12 AS compiled
WORKDIR /src
COPY . .
# The same setup script as the README, its build set only: Debian packages.
RUN scripts/setup --build
# The main build of scripts/test (Release), only the two shipped targets.
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && cmake --build build -j "$(nproc)" --target routelet routelet-cni
RUN strip build/controller/routelet build/cni/routelet-cni

FROM scratch AS prebuilt
COPY build/controller/routelet /src/build/controller/routelet
COPY build/cni/routelet-cni /src/build/cni/routelet-cni

FROM ${BINARIES} AS binaries

FROM debian:12-slim
# Runtime libraries of the agent (ldd): cpprestsdk and what it loads (OpenSSL, brotli,
# zlib), libmicrohttpd for the probes and metrics (and what it loads: GnuTLS with nettle,
# p11-kit, libtasn1, libidn2, libunistring, libffi), yaml-cpp, libnftables for egress
# masquerade (and what it loads: libnftnl, libmnl, jansson, xtables, gmp) and the C++
# runtime. libc6 is in every Debian image. The plugin is a static executable: install-cni
# copies it to the host, where it runs without the image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcpprest2.10 libssl3 libbrotli1 zlib1g libyaml-cpp0.7 \
      libmicrohttpd12 libgnutls30 libnettle8 libhogweed6 libp11-kit0 libtasn1-6 libidn2-0 \
      libunistring2 libffi8 \
      libnftables1 libnftnl11 libmnl0 libjansson4 libxtables12 libgmp10 libstdc++6 libgcc-s1 \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*
COPY --from=binaries /src/build/controller/routelet /src/build/cni/routelet-cni /usr/local/bin/
# So `ip route show proto routelet` names routelet's routes where iproute2 is present.
COPY dist/rt_protos.d/routelet.conf /etc/iproute2/rt_protos.d/routelet.conf
ENTRYPOINT ["/usr/local/bin/routelet"]
CMD ["run"]
