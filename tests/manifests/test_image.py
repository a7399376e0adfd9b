"""The Dockerfile, read. The daemonset tier (tests/kubernetes/test_daemonset.py) builds it
with buildah and runs it under kubelets, but on CI's own binaries (BINARIES=prebuilt): the
compile stage it skips is held here to what CI runs:
- the compile stage runs `scripts/setup --build` and the same cmake configure and build as
  scripts/test's normal build, so the image is built the way CI builds and tests;
- the prebuilt stage puts a build's binaries where the compile stage leaves its own, so
  the final stage copies the same paths whichever it gets;
- the final stage installs a Debian package for every shared library that ldd lists for
  the two built binaries (found with dpkg -S), apart from the base set below;
- it copies exactly the binaries the DaemonSet runs;
- the plugin it ships is a static executable, since it runs on the host."""

import os
import re
import shlex
import unittest

from manifestkit import AGENT_BIN, BUILD_DIR, CNI_BIN, DOCKERFILE, ROOT, require_binaries, run

# In every Debian image, debian:12-slim included: the C library and its loader (libc.so.6,
# libm.so.6, libpthread.so.0, ld-linux-x86-64.so.2) come from libc6, Priority required,
# which nothing can remove. Every other package is listed in the final stage explicitly,
# even those the slim image happens to carry today (libstdc++6 for apt, zlib1g for dpkg).
BASE_PACKAGES = {"libc6"}


def stages():
    """[(FROM line words, [instructions with continuation lines joined])]."""
    with open(DOCKERFILE) as f:
        text = f.read()
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            out.append((line.split(), []))
        elif out:
            out[-1][1].append(line)
    return out


def run_commands(instructions):
    """Every shell command of the RUN instructions, split on &&."""
    cmds = []
    for ins in instructions:
        if ins.startswith("RUN "):
            cmds += [shlex.split(c) for c in ins[4:].split("&&")]
    return cmds


def script_test_build():
    """The configure and build commands of scripts/test's main suite (its first run_suite,
    the one every tier runs on), with $dir and "$@" substituted as that call does. The
    warnings-as-errors switch is CI's and developers', not a user's build: left out."""
    with open(os.path.join(ROOT, "scripts", "test")) as f:
        text = f.read()
    call = re.search(r"^run_suite build (\S+) (.*)$", text, re.M)
    assert call, "scripts/test: no `run_suite build LABELS ARGS...`"
    args = shlex.split(call.group(2))
    configure = build = None
    for line in text.splitlines():
        words = shlex.split(line.split(">")[0]) if line.strip().startswith("cmake ") else []
        expanded = []
        for w in words:
            expanded += args if w == "$@" else ["build" if w == "$dir" else w]
        expanded = [w for w in expanded if w != "-DROUTELET_WERROR=ON"]
        if expanded[:2] == ["cmake", "-S"]:
            configure = expanded
        elif expanded[:2] == ["cmake", "--build"]:
            build = expanded
    return configure, build


def is_static(binary):
    """True for an executable with no program interpreter and no shared library."""
    program = run(["readelf", "--program-headers", "--wide", binary]).stdout
    dynamic = run(["readelf", "--dynamic", binary]).stdout
    return "INTERP" not in program and "(NEEDED)" not in dynamic


def sanitized_build():
    with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as f:
        return re.search(r"^ROUTELET_SANITIZE:BOOL=ON$", f.read(), re.M) is not None


def packages_of_libraries(binary):
    """{library path: Debian package} for every shared library ldd lists."""
    out = {}
    if is_static(binary):
        return out
    for line in run(["ldd", binary]).stdout.splitlines():
        m = re.search(r"(/\S+)", line)
        if not m:
            continue  # linux-vdso.so.1: in the kernel, not a file
        path = m.group(1)
        if re.search(r"/lib(asan|ubsan|lsan|tsan)\.so", path):
            # The suite also runs on an ASan+UBSan build; the image is built without
            # sanitizers (its build stage runs the normal build), so their runtimes are
            # not part of it.
            continue
        candidates = {path, os.path.realpath(path)}
        for c in list(candidates):  # merged /usr: dpkg knows one of /lib and /usr/lib
            candidates.add(c[4:] if c.startswith("/usr/") else "/usr" + c)
        for c in sorted(candidates):
            p = run(["dpkg", "-S", c], check=False)
            if p.returncode == 0:
                out[path] = p.stdout.split(":")[0]
                break
        else:
            raise AssertionError(f"{binary}: no Debian package provides {path}")
    return out


class ImageTest(unittest.TestCase):
    def setUp(self):
        self.stages = stages()
        self.assertEqual([s[0][1:] for s in self.stages],
                         [["debian:12", "AS", "compiled"], ["scratch", "AS", "prebuilt"],
                          ["${BINARIES}", "AS", "binaries"], ["debian:12-slim"]])
        self.build_from, self.build = self.stages[0]
        self.prebuilt = self.stages[1][1]
        self.final_from, self.final = self.stages[3]

    def test_the_binaries_are_compiled_unless_asked_otherwise(self):
        with open(DOCKERFILE) as f:
            first = [line.strip() for line in f if line.strip() and not line.startswith("#")][0]
        self.assertEqual(first, "ARG BINARIES=compiled")

    def test_build_stage_runs_what_the_readme_and_ci_run(self):
        cmds = run_commands(self.build)
        setup = ["scripts/setup", "--build"]
        self.assertIn(setup, cmds)
        configure, build = script_test_build()
        self.assertIsNotNone(configure)
        self.assertIn(configure, cmds, f"scripts/test configures with {configure}")
        builds = [c for c in cmds if c[:2] == ["cmake", "--build"]]
        self.assertEqual(len(builds), 1)
        # Same tree and parallel build; the image builds only the two shipped targets.
        self.assertEqual(builds[0][:4], build[:4])
        self.assertEqual(builds[0][builds[0].index("--target") + 1:], ["routelet", "routelet-cni"])
        self.assertLess(cmds.index(setup), cmds.index(configure))

    def test_setup_build_installs_what_the_build_finds(self):
        # The packages above scripts/packages' `--build` line: every -dev package the
        # configure finds (find_package, pkg-config) and the tools of the build.
        with open(os.path.join(ROOT, "scripts", "packages")) as f:
            text = f.read()
        marker = text.index("# ==== scripts/setup --build")
        build_set = {line.split("#")[0].split()[0] for line in text[:marker].splitlines()
                     if line.split("#")[0].strip()}
        for pkg in ("cmake", "ninja-build", "g++", "binutils", "pkgconf", "libcpprest-dev",
                    "libssl-dev", "nlohmann-json3-dev", "libyaml-cpp-dev", "libnftables-dev",
                    "libmicrohttpd-dev", "libgtest-dev", "libgmock-dev", "libbenchmark-dev"):
            self.assertIn(pkg, build_set)
        # Nothing of the lab or the tests: the build stage stays small.
        for pkg in ("kubernetes-client", "containerd", "etcd-server", "nodejs", "buildah"):
            self.assertNotIn(pkg, build_set)

    def test_prebuilt_binaries_land_where_the_compile_stage_leaves_them(self):
        copies = [shlex.split(i)[1:] for i in self.prebuilt if i.startswith("COPY ")]
        rel = [os.path.relpath(b, BUILD_DIR) for b in (AGENT_BIN, CNI_BIN)]
        self.assertEqual(copies, [["build/" + r, "/src/build/" + r] for r in rel])
        self.assertIn(["strip"] + ["build/" + r for r in rel], run_commands(self.build))

    def test_setup_installs_the_generator_scripts_test_uses(self):
        # `-G Ninja` on a fresh Debian 12 (CI, the image's build stage) needs ninja-build.
        configure, _ = script_test_build()
        self.assertIn("Ninja", configure)
        # scripts/setup installs every package scripts/packages lists (first word of a line).
        with open(os.path.join(ROOT, "scripts", "packages")) as f:
            listed = [line.split("#")[0].split()[:1] for line in f]
        self.assertIn(["ninja-build"], listed, "scripts/packages does not list ninja-build")

    def installed_packages(self):
        pkgs = []
        for cmd in run_commands(self.final):
            if cmd[:2] == ["apt-get", "install"]:
                pkgs += [w for w in cmd[2:] if not w.startswith("-")]
        return pkgs

    def test_final_stage_installs_a_package_for_every_library(self):
        require_binaries()
        listed = set(self.installed_packages())
        self.assertTrue(listed)
        needed = {}
        for binary in (AGENT_BIN, CNI_BIN):
            for lib, pkg in packages_of_libraries(binary).items():
                needed.setdefault(pkg, set()).add(os.path.basename(lib))
        missing = {p: sorted(libs) for p, libs in needed.items()
                   if p not in listed and p not in BASE_PACKAGES}
        self.assertEqual(missing, {}, "libraries the final stage does not install")
        # And nothing more than the libraries: the final stage holds only what runs.
        self.assertEqual(listed - set(needed), set(), "installed but not loaded by either binary")

    def test_the_plugin_is_static_outside_sanitizer_builds(self):
        # The runtime execs the plugin from the host's /opt/cni/bin, against the host's
        # libraries: a dynamic one built here needs glibc 2.36, newer than most node OSes.
        require_binaries()
        if sanitized_build():
            # The sanitizer runtimes are shared libraries; the image is built without them.
            self.assertFalse(is_static(CNI_BIN))
            self.assertTrue(any("libasan" in lib for lib in
                                run(["ldd", CNI_BIN]).stdout.split()), "ASan build without ASan")
        else:
            self.assertTrue(is_static(CNI_BIN), f"{CNI_BIN} loads shared libraries")

    def test_listed_packages_are_debian_12_package_names(self):
        for pkg in self.installed_packages():
            p = run(["dpkg-query", "-W", "-f=${Status}", pkg], check=False)
            self.assertIn("installed", p.stdout, f"{pkg}: not a package of this Debian 12 system")

    def test_final_stage_copies_the_two_built_binaries(self):
        copies = [shlex.split(i) for i in self.final if i.startswith("COPY --from=binaries")]
        rel = [os.path.relpath(b, BUILD_DIR) for b in (AGENT_BIN, CNI_BIN)]
        self.assertEqual([c[2:] for c in copies], [["/src/build/" + r for r in rel] + ["/usr/local/bin/"]])
        context = [shlex.split(i)[1:] for i in self.final if i.startswith("COPY ") and "--from" not in i]
        self.assertIn(["dist/rt_protos.d/routelet.conf", "/etc/iproute2/rt_protos.d/routelet.conf"], context)
        self.assertTrue(os.path.exists(os.path.join(ROOT, "dist", "rt_protos.d", "routelet.conf")))
        workdir = [i for i in self.build if i.startswith("WORKDIR ")]
        self.assertEqual(workdir, ["WORKDIR /src"])


if __name__ == "__main__":
    unittest.main()
