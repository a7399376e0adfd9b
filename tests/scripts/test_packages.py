"""scripts/packages is the one list of what routelet takes from Debian 12, and scripts/setup
installs exactly that list. These tests keep the list honest:

  * every command the project's bash scripts and Python tests run is provided: by a line of
    scripts/packages, by a package every minbase Debian 12 has (Priority required or
    Essential: what `mmdebstrap --variant=minbase bookworm` installs), by bash itself
    (builtins, keywords, the scanned scripts' functions), by the project (a path of the
    work tree) or by the short, commented allow-list BUILT below;
  * every package named there is a Debian package name and, as root on a machine where
    scripts/setup ran, is installed;
  * every command a line of scripts/packages names comes from that line's package here.

Commands are found statically. Bash: each file normalised by `bash --pretty-print` (no
comments, one command a line, continuations joined), then lexed (quotes, $(...), `...`,
<(...), ${...}, $((...)), [[ ... ]], case patterns, array literals, heredoc bodies) into simple
commands: the first word after assignments, redirections and reserved words, plus the command
a wrapper runs (ip netns exec NS CMD, nsenter, unshare, env, setsid, timeout, nice, chroot,
xargs, sudo, flock, exec, command, find -exec, bash -c 'SCRIPT', and the scripts' own
functions that run "$@"). Python: the ast; subprocess calls and, through them, the project's
helpers (run(cmd), lab.ns(ns, *cmd), lab.sh(script), ...) are followed to the literal command
lines they run, and shutil.which("x") names a command too."""
import ast
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
PACKAGES_FILE = os.path.join(ROOT, "scripts", "packages")
SCAN_DIRS = ("scripts", "tests")
SCAN_EXTRA = (".ci/run",)

# Commands that no Debian package provides because the project makes them; nothing else
# belongs here (a tool from Debian goes in scripts/packages: etcd, say, is etcd-server's).
BUILT = {
    # the build's agent and CNI plugin (cmake targets routelet, routelet-cni)
    "routelet", "routelet-cni",
    # Kubernetes v1.20.2 built from Debian's source by scripts/kubernetes into its cache
    "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy",
}

# scripts/setup's two sanctioned substitutions (see scripts/setup): a machine whose
# /usr/bin/kubectl belongs to another package gets Debian's kubectl unpacked into the cache
# instead of kubernetes-client, and nodesource's nodejs carries its own npm.
def _setup_substitutes(package):
    if package == "kubernetes-client":
        owner = _dpkg_owners(["/usr/bin/kubectl"]).get("/usr/bin/kubectl", set())
        return bool(owner) and "kubernetes-client" not in owner
    if package == "npm":
        return "nodesource" in _dpkg_version("nodejs")
    return False


BIN_DIRS = ("/usr/bin", "/usr/sbin", "/bin", "/sbin")
PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
COMMAND_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+:@%,-]*")
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")


# --------------------------------------------------------------------------- scripts/packages

def read_packages(path=PACKAGES_FILE):
    """[(package, [commands], line number)] of scripts/packages, as scripts/setup reads it."""
    entries = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            words = line.split("#", 1)[0].split()
            if words:
                entries.append((words[0], words[1:], n))
    return entries


# --------------------------------------------------------------------------- dpkg

def _dpkg_version(package):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                       capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else ""


def installed_packages():
    """{package: (priority, essential)} of the installed packages."""
    p = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Priority}\t${Essential}\t"
                        "${db:Status-Status}\n"], capture_output=True, text=True, check=True)
    out = {}
    for line in p.stdout.splitlines():
        name, priority, essential, status = line.split("\t")
        if status == "installed":
            out[name] = (priority, essential)
    return out


def package_files(packages):
    """{package: [paths]} of installed packages (dpkg-query -L, one call)."""
    packages = sorted(packages)
    if not packages:
        return {}
    p = subprocess.run(["dpkg-query", "-L", *packages], capture_output=True, text=True)
    blocks = p.stdout.rstrip("\n").split("\n\n")
    if p.returncode != 0 or len(blocks) != len(packages):
        # One list per package cannot be told apart (a package of two architectures, say):
        # one call each.
        blocks = [subprocess.run(["dpkg-query", "-L", pkg], capture_output=True,
                                 text=True).stdout for pkg in packages]
    return {pkg: [line for line in block.splitlines()
                  if line.startswith("/")]  # not "diverted by ..." notes
            for pkg, block in zip(packages, blocks)}


def _dpkg_owners(paths):
    """{path: {packages}} by dpkg -S, for those of paths dpkg knows (one call)."""
    paths = sorted(set(paths))
    if not paths:
        return {}
    p = subprocess.run(["dpkg-query", "-S", *paths], capture_output=True, text=True)
    owners = {}
    for line in p.stdout.splitlines():
        if line.startswith("diversion by") or ": " not in line:
            continue
        pkgs, path = line.split(": ", 1)
        owners.setdefault(path, set()).update(x.strip().split(":")[0] for x in pkgs.split(","))
    return owners


def alternatives():
    """[(link, [alternative paths])] of update-alternatives' links, masters and slaves
    (/var/lib/dpkg/alternatives/*: mode, master link, slave name/link pairs, a blank line,
    then per alternative its path, priority and one line per slave)."""
    out = []
    adir = "/var/lib/dpkg/alternatives"
    for name in sorted(os.listdir(adir)) if os.path.isdir(adir) else []:
        with open(os.path.join(adir, name), encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        try:
            master, i, slaves = lines[1], 2, []
            while lines[i]:
                slaves.append(lines[i + 1])
                i += 2
            i += 1
            targets = {master: []}
            targets.update({s: [] for s in slaves})
            while i < len(lines) and lines[i]:
                targets[master].append(lines[i])
                for k, s in enumerate(slaves):
                    if lines[i + 2 + k]:
                        targets[s].append(lines[i + 2 + k])
                i += 2 + len(slaves)
        except IndexError:
            continue
        out += list(targets.items())
    return out


def merged_usr(path):
    """path and its other name on a merged-/usr system (/bin/x is /usr/bin/x)."""
    names = {path}
    for short in ("/bin/", "/sbin/", "/lib/", "/lib64/"):
        if path.startswith(short):
            names.add("/usr" + path)
        elif path.startswith("/usr" + short):
            names.add(path[4:])
    return names


def bin_commands(paths):
    return {os.path.basename(p) for p in paths if os.path.dirname(p) in BIN_DIRS}


def minbase_commands():
    """The commands of a minbase Debian 12: those the installed packages of Priority required
    or Essential yes (mmdebstrap's minbase: Essential + required + apt) put in the bin
    directories, update-alternatives' links included (awk is mawk)."""
    packages = {p for p, (prio, ess) in installed_packages().items()
                if prio == "required" or ess == "yes"}
    files = package_files(packages)
    owned = set()
    for paths in files.values():
        for p in paths:
            owned |= merged_usr(p)
    commands = set()
    for paths in files.values():
        commands |= bin_commands(paths)
    for link, targets in alternatives():
        if os.path.dirname(link) in BIN_DIRS and any(t in owned for t in targets):
            commands.add(os.path.basename(link))
    return commands


def bash_builtins():
    p = subprocess.run(["bash", "-c", "compgen -b; compgen -k"], capture_output=True,
                       text=True, check=True)
    return set(p.stdout.split())


# --------------------------------------------------------------------------- bash lexer

class Word:
    """A shell word as written (raw), where it is, and what it is: a plain word, a [[ ]]
    test or a (( )) arithmetic command."""
    __slots__ = ("raw", "line", "kind")

    def __init__(self, raw, line, kind="word"):
        self.raw, self.line, self.kind = raw, line, kind

    @property
    def lit(self):
        """The word when it is a literal command name or path, else None."""
        if self.kind == "word" and self.raw and re.fullmatch(r"[A-Za-z0-9_./+@%:,-]+", self.raw):
            return self.raw
        return None

    @property
    def value(self):
        """The word's text with its quotes removed (expansions stay as written): the script
        of `bash -c WORD`."""
        s, out, i = self.raw, [], 0
        while i < len(s):
            c = s[i]
            if c == "'":
                j = s.find("'", i + 1)
                out.append(s[i + 1:j if j >= 0 else len(s)])
                i = len(s) if j < 0 else j + 1
            elif c == '"':
                i += 1
                while i < len(s) and s[i] != '"':
                    if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in '$`"\\\n':
                        i += 1
                    out.append(s[i])
                    i += 1
                i += 1
            elif c == "\\" and i + 1 < len(s):
                out.append(s[i + 1])
                i += 2
            else:
                out.append(c)
                i += 1
        return "".join(out)


RESERVED_LEAD = {"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}", "fi",
                 "done", "esac", "time", "coproc"}
OPERATORS = (";;&", ";;", ";&", ";", "&&", "&>>", "&>", "&", "||", "|&", "|", "(", ")")
REDIRECTIONS = ("<<<", "<<-", "<<", "<>", "<&", "<", ">>", ">&", ">|", ">")


class BashLexer:
    """Splits bash source into token lists, one per command context: the top level and each
    command or process substitution. Tokens: ("op", text, line), ("redir", text, line) and
    ("word", Word). Heredoc bodies are skipped; array literals are words, not commands."""

    def __init__(self, text):
        self.s, self.n, self.i, self.line = text, len(text), 0, 1
        self.heredocs = []
        self.lists = []

    def run(self):
        self.lists.append(self.tokens(None))
        return self.lists

    def tokens(self, stop):
        s, toks, depth, cases, cmd_start, last = self.s, [], 0, 0, True, None
        while self.i < self.n:
            c = s[self.i]
            if c == "\n":
                toks.append(("op", "\n", self.line))
                self.i += 1
                self.line += 1
                self.read_heredocs()
                cmd_start = True
                continue
            if c in " \t":
                self.i += 1
                continue
            if c == "\\" and s.startswith("\\\n", self.i):
                self.i += 2
                self.line += 1
                continue
            if c == "#":
                while self.i < self.n and s[self.i] != "\n":
                    self.i += 1
                continue
            if stop == "`" and c == "`":
                self.i += 1
                return toks
            if c == ")" and stop == ")" and depth == 0 and cases == 0:
                self.i += 1
                return toks
            if c == "(" and s.startswith("((", self.i) and (cmd_start or last == "for"):
                line = self.line
                self.i += 2
                start = self.i
                self.arith_body()
                toks.append(("word", Word("((" + s[start:self.i], line, "arith")))
                cmd_start, last = False, None
                continue
            if c in "<>" and s.startswith("(", self.i + 1):
                pass  # a process substitution: a word
            else:
                red = next((r for r in REDIRECTIONS if s.startswith(r, self.i)), None)
                if c == "&" and s.startswith(("&>>", "&>"), self.i):
                    red = "&>>" if s.startswith("&>>", self.i) else "&>"
                if red:
                    toks.append(("redir", red, self.line))
                    self.i += len(red)
                    if red in ("<<", "<<-"):
                        while self.i < self.n and s[self.i] in " \t":
                            self.i += 1
                        delim = Word(self.read_word(), self.line).value
                        self.heredocs.append((delim, red == "<<-"))
                    continue
                op = next((o for o in OPERATORS if s.startswith(o, self.i)), None)
                if op:
                    toks.append(("op", op, self.line))
                    self.i += len(op)
                    if op == "(":
                        depth += 1
                    elif op == ")":
                        depth = max(0, depth - 1)
                    cmd_start, last = True, None
                    continue
            line = self.line
            raw = self.read_word()
            if not raw:  # a lone metacharacter the lexer does not know: skip it
                self.i += 1
                continue
            if self.i < self.n and s[self.i] in "<>" and (
                    raw.isdigit() or re.fullmatch(r"\{[A-Za-z_][A-Za-z0-9_]*\}", raw)):
                continue  # the file descriptor of the redirection that follows
            if ASSIGNMENT.fullmatch(raw) and s.startswith("(", self.i):
                start = self.i
                self.i += 1
                self.tokens(")")  # an array literal: its words are data
                raw += s[start:self.i]
            if cmd_start and raw == "[[":
                start = self.i
                self.cond_body()
                toks.append(("word", Word("[[" + s[start:self.i], line, "cond")))
                cmd_start, last = False, None
                continue
            toks.append(("word", Word(raw, line)))
            if cmd_start and raw == "case":
                cases += 1
            elif cmd_start and raw == "esac":
                cases = max(0, cases - 1)
            cmd_start = cmd_start and (raw in RESERVED_LEAD or bool(ASSIGNMENT.match(raw)))
            last = raw
        return toks

    def read_heredocs(self):
        s = self.s
        while self.heredocs:
            delim, strip = self.heredocs.pop(0)
            while self.i < self.n:
                j = s.find("\n", self.i)
                j = self.n if j < 0 else j
                text = s[self.i:j]
                self.i = min(j + 1, self.n)
                self.line += 1
                if (text.lstrip("\t") if strip else text) == delim:
                    break

    def read_word(self):
        s, start = self.s, self.i
        while self.i < self.n:
            c = s[self.i]
            if c in " \t\n":
                break
            if c in ";&|()<>":
                if c in "<>" and s.startswith("(", self.i + 1):
                    self.i += 2
                    self.lists.append(self.tokens(")"))
                    continue
                break
            if c == "\\":
                if s.startswith("\\\n", self.i):
                    self.line += 1
                self.i += 2
            elif c == "'":
                self.squote()
            elif c == '"':
                self.dquote()
            elif c == "`":
                self.i += 1
                self.lists.append(self.tokens("`"))
            elif c == "$":
                self.dollar()
            else:
                self.i += 1
        return s[start:self.i]

    def squote(self):
        j = self.s.find("'", self.i + 1)
        j = self.n - 1 if j < 0 else j
        self.line += self.s.count("\n", self.i, j)
        self.i = j + 1

    def dquote(self):
        s = self.s
        self.i += 1
        while self.i < self.n:
            c = s[self.i]
            if c == "\\":
                self.i += 2
            elif c == '"':
                self.i += 1
                return
            elif c == "$":
                self.dollar()
            elif c == "`":
                self.i += 1
                self.lists.append(self.tokens("`"))
            else:
                if c == "\n":
                    self.line += 1
                self.i += 1

    def dollar(self):
        s = self.s
        if s.startswith("$((", self.i):
            self.i += 3
            self.arith_body()
        elif s.startswith("$(", self.i):
            self.i += 2
            self.lists.append(self.tokens(")"))
        elif s.startswith("${", self.i):
            self.i += 2
            self.brace_body()
        elif s.startswith("$'", self.i):
            self.i += 2
            while self.i < self.n and s[self.i] != "'":
                self.i += 2 if s[self.i] == "\\" else 1
            self.i += 1
        elif s.startswith('$"', self.i):
            self.i += 1
            self.dquote()
        else:
            self.i += 1

    def nested(self, c):
        """At an expansion or quote inside a body: consumes it; False for any other c."""
        if c == "$":
            self.dollar()
        elif c == '"':
            self.dquote()
        elif c == "'":
            self.squote()
        elif c == "`":
            self.i += 1
            self.lists.append(self.tokens("`"))
        else:
            return False
        return True

    def arith_body(self):
        """After (( or $((: up to and past the matching ))."""
        s, depth = self.s, 0
        while self.i < self.n:
            c = s[self.i]
            if c == ")" and depth == 0 and s.startswith("))", self.i):
                self.i += 2
                return
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            elif self.nested(c):
                continue
            elif c == "\n":
                self.line += 1
            self.i += 1

    def brace_body(self):
        """After ${: up to and past the matching }."""
        s, depth = self.s, 1
        while self.i < self.n:
            c = s[self.i]
            if c == "}":
                depth -= 1
                self.i += 1
                if depth == 0:
                    return
                continue
            if c == "{":
                depth += 1
            elif c == "\\":
                self.i += 1
            elif self.nested(c):
                continue
            elif c == "\n":
                self.line += 1
            self.i += 1

    def cond_body(self):
        """After [[: up to and past the ]] that ends it (a word of its own)."""
        s = self.s
        while self.i < self.n:
            c = s[self.i]
            if s.startswith("]]", self.i) and s[self.i - 1] in " \t" and (
                    self.i + 2 >= self.n or s[self.i + 2] in " \t\n;&|)"):
                self.i += 2
                return
            if c == "\\":
                self.i += 2
            elif not self.nested(c):
                if c == "\n":
                    self.line += 1
                self.i += 1


class SimpleCommand:
    __slots__ = ("words", "line", "func")

    def __init__(self, words, func):
        self.words, self.line, self.func = words, words[0].line, func


def simple_commands(toks):
    """The simple commands of one token list (reserved words, assignments and redirections
    stripped; case patterns, for lists and function headers skipped), and the functions it
    defines. Each command notes the function whose body it is in."""
    out, funcs = [], set()
    cur, mode, cases = [], "cmd", 0
    braces, pending_func = [], None
    skip_next = False

    def current_func():
        return next((f for f in reversed(braces) if f), None)

    def flush():
        nonlocal cur, pending_func
        words, i = cur, 0
        cur = []
        while i < len(words):
            w = words[i]
            if w.kind == "word" and w.raw in RESERVED_LEAD:
                if w.raw == "{":
                    braces.append(pending_func)
                    pending_func = None
                elif w.raw == "}" and braces:
                    braces.pop()
                elif w.raw == "time" and i + 1 < len(words) and words[i + 1].raw == "-p":
                    i += 1
                i += 1
            elif w.kind == "word" and ASSIGNMENT.match(w.raw):
                i += 1
            else:
                break
        if i < len(words):
            out.append(SimpleCommand(words[i:], current_func()))

    def leading():
        return all(w.kind == "word" and (w.raw in RESERVED_LEAD or ASSIGNMENT.match(w.raw))
                   for w in cur)

    k = 0
    while k < len(toks):
        t = toks[k]
        k += 1
        if mode == "case_subject":
            if t[0] == "word" and t[1].raw == "in":
                mode = "case_pattern"
            continue
        if mode == "case_pattern":
            if t[0] == "op" and t[1] == ")":
                mode = "cmd"
            elif t[0] == "word" and t[1].raw == "esac":
                cases -= 1
                mode = "cmd"
            continue
        if mode == "for":
            if (t[0] == "op" and t[1] in (";", "\n")) or (t[0] == "word" and t[1].raw == "do"):
                mode = "cmd"
            continue
        if t[0] == "redir":
            skip_next = t[1] not in ("<<", "<<-")  # a heredoc's delimiter is no token
            continue
        if t[0] == "word":
            w = t[1]
            if skip_next:
                skip_next = False
                continue
            if leading() and w.kind == "word":
                if w.raw == "case":
                    flush()
                    cases += 1
                    mode = "case_subject"
                    continue
                if w.raw in ("for", "select"):
                    flush()
                    mode = "for"
                    continue
                if w.raw == "function":
                    flush()
                    if k < len(toks) and toks[k][0] == "word":
                        pending_func = toks[k][1].raw
                        funcs.add(pending_func)
                        k += 1
                    continue
                if w.raw == "esac" and cases:
                    flush()
                    cases -= 1
                    continue
            cur.append(w)
            continue
        op = t[1]
        if op == "(" and cur and k < len(toks) and toks[k][:2] == ("op", ")"):
            significant = [w for w in cur
                           if not (w.raw in RESERVED_LEAD or ASSIGNMENT.match(w.raw))]
            if len(significant) == 1:  # name () : a function definition
                cur.remove(significant[0])
                flush()
                pending_func = significant[0].raw
                funcs.add(pending_func)
                k += 1
                continue
        flush()
        if op in (";;", ";&", ";;&") and cases:
            mode = "case_pattern"
    flush()
    return out, funcs


def pretty_print(path):
    p = subprocess.run(["bash", "--pretty-print", path], capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError(f"bash --pretty-print {path} failed:\n{p.stderr}")
    return p.stdout


def lex_bash(text):
    """(simple commands, function names) of bash source text."""
    cmds, funcs = [], set()
    for toks in BashLexer(text).run():
        c, f = simple_commands(toks)
        cmds += c
        funcs |= f
    return cmds, funcs


# --------------------------------------------------------------------------- Python scanning

class Item:
    """One element of a command line a Python call runs: a constant string ("const"), text
    with placeholders such as an f-string ("script": for `bash -c`, never a command name), a
    value not known statically ("hole"), or, while templates are worked out, a parameter's
    ("sym")."""
    __slots__ = ("kind", "text")

    def __init__(self, kind, text=None):
        self.kind, self.text = kind, text

    @property
    def raw(self):
        return self.text if self.kind == "const" else None

    lit = raw

    @property
    def value(self):
        return self.text if self.kind in ("const", "script") else None


HOLE = Item("hole")
SYM_MARK = Item("sym")
# Symbols in a helper's template: its k-th parameter as one item (PARAM), spliced in as a
# list (SPLICE), at the end of a string (CONCAT: prelude + script), or its *args from
# positional argument k on (VARARGS).
PARAM, SPLICE, CONCAT, VARARGS = "param", "splice", "concat", "varargs"


class Sym:
    __slots__ = ("kind", "k")

    def __init__(self, kind, k=None):
        self.kind, self.k = kind, k


SUBPROCESS = {"run", "Popen", "call", "check_call", "check_output"}


def _fstring_text(node):
    return "".join(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str)
                   else "${_}" for v in node.values)


class Frame:
    """A function's parameters (self dropped for a method), *args, class, and the list
    literals assigned to its local names; or a module's top level (no parameters)."""

    def __init__(self, path, node, consts, cls=None):
        self.path, self.node, self.consts, self.cls = path, node, consts, cls
        self.name, self.params, self.vararg = None, [], None
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.name = node.name
            names = [a.arg for a in node.args.posonlyargs + node.args.args]
            if cls and names and names[0] in ("self", "cls"):
                names = names[1:]
            self.params = names
            self.vararg = node.args.vararg.arg if node.args.vararg else None
        self.assigned = {}
        for n in _own_nodes(node):
            if isinstance(n, ast.Assign) and len(n.targets) == 1 and \
                    isinstance(n.targets[0], ast.Name) and \
                    isinstance(n.value, (ast.List, ast.Tuple, ast.BinOp)):
                self.assigned.setdefault(n.targets[0].id, []).append(n.value)


def _own_nodes(node):
    """The nodes of a function's or module's own body, its lambdas' included (not those of
    the functions and classes in it)."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        yield n
        stack.extend(ast.iter_child_nodes(n))


def _reaches(template):
    """Whether a parameter of the template can end up as a command or a `-c` script: only
    then is the function a helper whose calls must be followed."""
    elems = [x if isinstance(x, Item) else SYM_MARK for x in template]
    for _ in range(20):
        if not elems or elems[0].kind == "sym":
            return bool(elems)
        name = command_name(elems[0].lit) if elems[0].lit else None
        if name is None:
            return False
        elems, script = unwrap(name, elems)
        if script is not None:
            return script.kind == "sym"
    return False


class PyScanner:
    """Command lines the scanned Python files run: subprocess calls, and calls of the
    project's helpers (functions whose parameters reach a subprocess call as the command,
    its arguments or a `bash -c` script), followed to a fixed point."""

    def __init__(self, files):
        self.frames, self.modules = [], {}
        self.methods = set()  # (class, method) defined
        for path in files:
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), filename=path)
            consts = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                      for t in n.targets if isinstance(t, ast.Name)
                      and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)}
            self.modules[path] = Frame(path, tree, consts)
            self._collect(path, tree, consts, None)
        self.module_names = {os.path.splitext(os.path.basename(p))[0] for p in files}
        self.templates = {}  # call name -> [(is_method, class, parameter names, template)]

    def _collect(self, path, node, consts, cls):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.frames.append(Frame(path, child, consts, cls))
                if cls:
                    self.methods.add((cls, child.name))
                self._collect(path, child, consts, None)
            elif isinstance(child, ast.ClassDef):
                self._collect(path, child, consts, child.name)
            else:
                self._collect(path, child, consts, cls)

    # -- abstract values, in a frame
    def scalar(self, node, fr):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return Item("const", node.value)
        if isinstance(node, ast.JoinedStr):
            return Item("script", _fstring_text(node))
        if isinstance(node, ast.Name):
            if node.id in fr.params:
                return Sym(PARAM, fr.params.index(node.id))
            if node.id in fr.consts:
                return Item("const", fr.consts[node.id])
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            right = self.scalar(node.right, fr)
            if isinstance(right, Sym) and right.kind in (PARAM, CONCAT):
                return Sym(CONCAT, right.k)
            if isinstance(right, Item) and right.kind in ("const", "script"):
                return Item("script", "${_}" + right.text)
        return HOLE

    def listval(self, node, fr, seen=()):
        """The items of a list-valued expression, or None when it is not one we can read."""
        if isinstance(node, (ast.List, ast.Tuple)):
            items = []
            for e in node.elts:
                if isinstance(e, ast.Starred):
                    items += self.listval(e.value, fr, seen) or [HOLE]
                else:
                    items.append(self.scalar(e, fr))
            return items
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.listval(node.left, fr, seen), self.listval(node.right, fr, seen)
            if left is None and right is None:
                return None
            return (left or [HOLE]) + (right or [HOLE])
        if isinstance(node, ast.Name):
            if node.id == fr.vararg:
                return [Sym(VARARGS, len(fr.params))]
            if node.id in fr.params:
                return [Sym(SPLICE, fr.params.index(node.id))]
            values = fr.assigned.get(node.id, [])
            if len(values) == 1 and node.id not in seen:
                return self.listval(values[0], fr, seen + (node.id,))
        return None

    # -- calls
    def call_lines(self, call, fr):
        """Command lines (lists of items and symbols of fr) the call runs."""
        f = call.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
        owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) \
            else None
        if owner == "subprocess" and name in SUBPROCESS and call.args:
            shell = any(k.arg == "shell" and isinstance(k.value, ast.Constant) and k.value.value
                        for k in call.keywords)
            if shell:
                return [[Item("const", "sh"), Item("const", "-c"), self.scalar(call.args[0], fr)]]
            items = self.listval(call.args[0], fr)
            return [items] if items else []
        lines = []
        own_class = owner == "self" and fr.cls and (fr.cls, name) in self.methods
        for is_method, cls, params, template in self.templates.get(name, []):
            if isinstance(f, ast.Attribute):
                if is_method and own_class and cls != fr.cls:
                    continue  # self.x(...) of a class with its own x
                if not is_method and owner not in self.module_names:
                    continue  # obj.run(...) is not the module function run(...)
            elif is_method:
                continue
            lines.append(self.instantiate(template, params, call, fr))
        return lines

    def instantiate(self, template, params, call, fr):
        """A helper's template with the call's arguments, evaluated in the caller's frame."""
        args = call.args
        starred = next((k for k, a in enumerate(args) if isinstance(a, ast.Starred)), len(args))
        keywords = {kw.arg: kw.value for kw in call.keywords if kw.arg}
        out = []
        for it in template:
            if isinstance(it, Item):
                out.append(it)
                continue
            if it.kind == VARARGS:
                for a in args[it.k:]:
                    if isinstance(a, ast.Starred):
                        out += self.listval(a.value, fr) or [HOLE]
                    else:
                        out.append(self.scalar(a, fr))
                continue
            node = args[it.k] if it.k < starred else keywords.get(params[it.k])
            if node is None:
                out.append(HOLE)
            elif it.kind == PARAM:
                out.append(self.scalar(node, fr))
            elif it.kind == SPLICE:
                out += self.listval(node, fr) or [HOLE]
            else:  # CONCAT: what the caller passes ends the string
                v = self.scalar(node, fr)
                if isinstance(v, Item) and v.kind in ("const", "script"):
                    out.append(Item("script", v.text))
                elif isinstance(v, Sym):
                    out.append(Sym(CONCAT, v.k))
                else:
                    out.append(HOLE)
        return out

    def derive_templates(self):
        for _ in range(10):
            changed = False
            for fr in self.frames:
                for call in (n for n in _own_nodes(fr.node) if isinstance(n, ast.Call)):
                    for line in self.call_lines(call, fr):
                        if not _reaches(line):
                            continue
                        # A constructor: Class(...) runs __init__.
                        if fr.name == "__init__" and fr.cls:
                            key, entry = fr.cls, (False, None, fr.params, line)
                        else:
                            key, entry = fr.name, (bool(fr.cls), fr.cls, fr.params, line)
                        known = self.templates.setdefault(key, [])
                        if not any(e[:2] == entry[:2] and _same(e[3], line) for e in known):
                            known.append(entry)
                            changed = True
            if not changed:
                return

    def command_lines(self):
        """[(path, line number, [items])] of every call's command line whose command is a
        literal, and of every shutil.which("x")."""
        self.derive_templates()
        out = []
        for fr in list(self.modules.values()) + self.frames:
            loops = _loop_constants(fr.node)
            for call in (n for n in _own_nodes(fr.node) if isinstance(n, ast.Call)):
                f = call.func
                if isinstance(f, ast.Attribute) and f.attr == "which" and call.args and \
                        isinstance(f.value, ast.Name) and f.value.id == "shutil":
                    a = call.args[0]
                    names = [a.value] if isinstance(a, ast.Constant) and isinstance(a.value, str) \
                        else loops.get(a.id, []) if isinstance(a, ast.Name) else []
                    out += [(fr.path, call.lineno, [Item("const", x)]) for x in names]
                    continue
                for line in self.call_lines(call, fr):
                    line = [HOLE if isinstance(x, Sym) else x for x in line]
                    if line and line[0].lit:
                        out.append((fr.path, call.lineno, line))
        return out


def _same(a, b):
    return len(a) == len(b) and all(
        type(x) is type(y) and x.kind == y.kind and
        (x.text == y.text if isinstance(x, Item) else x.k == y.k) for x, y in zip(a, b))


def _loop_constants(node):
    """{name: [strings]} of `for name in ("a", "b")` loops and comprehensions in a body."""
    out = {}
    for n in _own_nodes(node):
        if isinstance(n, (ast.For, ast.comprehension)) and isinstance(n.target, ast.Name) \
                and isinstance(n.iter, (ast.Tuple, ast.List)):
            out.setdefault(n.target.id, []).extend(
                e.value for e in n.iter.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return out


# --------------------------------------------------------------------------- wrappers

# Commands that run another command: options that take a separate value, and how many
# positional arguments come before the command.
WRAPPERS = {
    "nsenter": ({"-t", "--target", "-S", "--setuid", "-G", "--setgid"}, 0),
    "unshare": ({"-S", "--setuid", "-G", "--setgid", "-R", "--root", "-w", "--wd",
                 "--propagation", "--setgroups", "--map-user", "--map-group", "--map-users",
                 "--map-groups"}, 0),
    "env": ({"-u", "--unset", "-C", "--chdir"}, 0),
    "setsid": (set(), 0),
    "timeout": ({"-s", "--signal", "-k", "--kill-after"}, 1),
    "nice": ({"-n", "--adjustment"}, 0),
    "chroot": ({"--userspec", "--groups"}, 1),
    "xargs": ({"-I", "-n", "-P", "-L", "-d", "-E", "-s", "-a", "--max-args", "--max-procs",
               "--max-lines", "--delimiter", "--eof", "--max-chars", "--arg-file",
               "--replace"}, 0),
    "sudo": ({"-u", "--user", "-g", "--group", "-C", "--close-from", "-D", "--chdir", "-h",
              "--host", "-p", "--prompt", "-r", "--role", "-t", "--type", "-U",
              "--other-user", "-T", "--command-timeout"}, 0),
    "flock": ({"-w", "--timeout", "-E", "--conflict-exit-code"}, 1),
    "exec": ({"-a"}, 0),
    "command": (set(), 0),
    "nohup": (set(), 0),
    "stdbuf": ({"-i", "-o", "-e"}, 0),
}
SHELLS = {"bash", "sh", "dash"}


def unwrap(name, elems):
    """(the elements from the command the wrapper `name` runs, or None; the element that is
    a shell's `-c` script, or None)."""
    if name in SHELLS:
        i = 1
        while i < len(elems) and elems[i].raw and elems[i].raw.startswith(("-", "+")) \
                and not elems[i].raw.startswith("--"):
            opt = elems[i].raw
            if opt in ("-o", "+o", "-O", "+O"):
                i += 2
                continue
            if "c" in opt[1:] and opt[0] == "-":
                return None, elems[i + 1] if i + 1 < len(elems) else None
            i += 1
        return None, None
    if name == "find":
        for i, e in enumerate(elems):
            if e.raw in ("-exec", "-execdir", "-ok", "-okdir"):
                return elems[i + 1:], None
        return None, None
    if name == "ip":
        i, every = 1, False
        while i < len(elems) and elems[i].raw and elems[i].raw.startswith("-"):
            if elems[i].raw in ("-all", "-a"):
                every = True
            i += 2 if elems[i].raw in ("-n", "-netns", "-b", "-batch", "-rc", "-rcvbuf") else 1
        if i + 1 < len(elems) and elems[i].raw == "netns" and elems[i + 1].raw == "exec":
            return elems[i + 2 + (0 if every else 1):], None
        return None, None
    if name not in WRAPPERS:
        return None, None
    takes_value, positional = WRAPPERS[name]
    i = 1
    while i < len(elems):
        raw = elems[i].raw
        if raw is None or not raw.startswith("-") or raw == "-":
            if name == "env" and raw and ASSIGNMENT.match(raw):
                i += 1
                continue
            break
        if raw == "--":
            i += 1
            break
        if name == "command" and raw in ("-v", "-V"):
            return None, None  # a lookup, not a run
        if name == "nice" and re.fullmatch(r"-\d+", raw):
            i += 1
            continue
        opt = raw.split("=", 1)[0]
        i += 2 if opt in takes_value and "=" not in raw else 1
    i += positional
    return (elems[i:] if i < len(elems) else None), None


def command_name(word):
    """The command a literal word names: itself, the basename of a system binary's path
    (/usr/bin/x is x), or None for a path of the project or a variable's."""
    if word.startswith("/"):
        return os.path.basename(word) if os.path.dirname(word) in BIN_DIRS else None
    if "/" in word or word.startswith(".") or not COMMAND_NAME.fullmatch(word):
        return None
    return word


class Use:
    __slots__ = ("name", "path", "line", "direct")

    def __init__(self, name, path, line, direct):
        self.name, self.path, self.line, self.direct = name, path, line, direct


def expand(elems, path, line, func_wrappers, uses, direct=True, depth=0):
    """Uses of the commands one command line runs: its first word and what wrappers run.
    direct: the shell runs it (a builtin or function will do); else it is exec'd."""
    while elems and depth < 20:
        depth += 1
        word = elems[0].lit
        if word is None:
            return
        name = command_name(word)
        if name is None:
            return
        uses.append(Use(name, path, line, direct))
        if direct and name in func_wrappers:
            elems = elems[1 + func_wrappers[name]:]
            continue
        rest, script = unwrap(name, elems)
        if script is not None:
            if script.value is not None:
                scan_bash_text(script.value, path, line, func_wrappers, uses)
            return
        elems, direct = rest, False


def scan_bash_text(text, path, line, func_wrappers, uses):
    """Uses in a `bash -c` script (line: where the script is)."""
    cmds, _ = lex_bash(text)
    for c in cmds:
        expand(c.words, path, line, func_wrappers, uses)


# --------------------------------------------------------------------------- the scan

def _is_script(path):
    """'bash', 'python' or None, from the name and the #! line."""
    try:
        with open(path, "rb") as f:
            first = f.readline(200)
    except OSError:
        return None
    if path.endswith(".py"):
        return "python"
    if first.startswith(b"#!"):
        if b"python" in first:
            return "python"
        if re.search(rb"\b(ba)?sh\b", first):
            return "bash"
    if path.endswith(".sh"):
        return "bash"
    return None


def project_scripts(root=ROOT):
    """{'bash': [paths], 'python': [paths]} of the project's scripts and tests."""
    found = {"bash": [], "python": []}
    paths = [os.path.join(root, p) for p in SCAN_EXTRA]
    for d in SCAN_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, d)):
            dirnames[:] = sorted(x for x in dirnames if x != "node_modules" and
                                 x != "__pycache__" and not x.startswith("."))
            paths += [os.path.join(dirpath, f) for f in sorted(filenames)]
    for p in paths:
        kind = _is_script(p) if os.path.isfile(p) else None
        if kind:
            found[kind].append(p)
    return found


def scan(bash_files, python_files):
    """(uses, functions defined in the bash files)."""
    parsed, funcs = [], set()
    for path in bash_files:
        cmds, f = lex_bash(pretty_print(path))
        parsed.append((path, cmds))
        funcs |= f
    # Functions that run their arguments ("$@" after `shift N`, or "${@:K}"): wrappers.
    shifts, runs = {}, {}
    for _path, cmds in parsed:
        for c in cmds:
            if not c.func:
                continue
            first = c.words[0].raw
            if first == "shift":
                n = c.words[1].raw if len(c.words) > 1 else "1"
                shifts[c.func] = shifts.get(c.func, 0) + (int(n) if n.isdigit() else 1)
            elif first == '"$@"':
                runs[c.func] = None
            elif re.fullmatch(r'"\$\{@:(\d+)\}"', first):
                runs[c.func] = int(re.fullmatch(r'"\$\{@:(\d+)\}"', first).group(1)) - 1
    func_wrappers = {f: (skip if skip is not None else shifts.get(f, 0))
                     for f, skip in runs.items()}
    # Bash uses carry no line: pretty-printing renumbers them (see source_lines).
    uses = []
    for path, cmds in parsed:
        for c in cmds:
            expand(c.words, path, None, func_wrappers, uses)
    for path, lineno, items in PyScanner(python_files).command_lines():
        expand(items, path, lineno, func_wrappers, uses, direct=False)
    return uses, funcs


def source_lines(path, name):
    """The lines of path that have name as a command word, outside comments (bash is
    scanned pretty-printed, whose line numbers are not the file's)."""
    pattern = re.compile(r"(^|[\s;|&(`{!\"'])" + re.escape(name) + r"($|[\s;|&)`\"'])")
    found = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            code = re.sub(r"(^|\s)#.*", "", line)
            if pattern.search(code):
                found.append(n)
    return found


class Provided:
    """What the project may run: scripts/packages, minbase, bash, its own functions, BUILT."""

    def __init__(self, listed, minbase_commands, builtins, funcs):
        self.listed, self.minbase, self.builtins, self.funcs = \
            listed, minbase_commands, builtins, funcs

    def ok(self, use):
        if use.name in self.listed or use.name in self.minbase or use.name in BUILT:
            return True
        return use.direct and (use.name in self.builtins or use.name in self.funcs)


def missing(uses, provided, root=ROOT):
    """{command: ["path:line", ...]} of the uses nothing provides."""
    found = {}
    for u in uses:
        if not provided.ok(u):
            lines = [u.line] if u.line else source_lines(u.path, u.name) or [0]
            rel = os.path.relpath(u.path, root)
            found.setdefault(u.name, set()).update((rel, n) for n in lines)
    return {name: [f"{p}:{n}" if n else p for p, n in sorted(where)]
            for name, where in found.items()}


def missing_message(gaps):
    lines = [f"  {name}: run by {', '.join(where)}" for name, where in sorted(gaps.items())]
    return ("commands run by the project's scripts and tests that nothing provides (not in "
            "scripts/packages, not in a minbase Debian 12, not a bash builtin or a function "
            "of the scripts): add it to scripts/packages (package, then the command), so "
            "scripts/setup installs it:\n" + "\n".join(lines))


_CACHE = {}


def cached(key, make):
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]


def provided_for(funcs):
    listed = {c for _p, cmds, _n in read_packages() for c in cmds}
    return Provided(listed, cached("minbase", minbase_commands),
                    cached("builtins", bash_builtins), funcs)


# --------------------------------------------------------------------------- the tests

class CommandsProvidedTest(unittest.TestCase):
    def test_every_command_run_is_provided(self):
        files = project_scripts()
        uses, funcs = scan(files["bash"], files["python"])
        # The scan must see the project: a scanner that finds nothing passes anything. (A
        # script renamed: update these.)
        rel = {os.path.relpath(p, ROOT) for k in files for p in files[k]}
        for f in ("scripts/setup", "scripts/lib/lab.sh", "tests/e2e/lab_extra.sh", ".ci/run",
                  "tests/bench/vxlan/run-vxlan-bench", "tests/e2e/labkit.py",
                  "tests/apiserver/standin"):
            self.assertIn(f, rel, f"{f} is not among the scripts scanned")
        names = {u.name for u in uses}
        for known in ("ip", "nft", "ping", "curl", "openssl", "git", "cmake", "python3", "awk"):
            self.assertIn(known, names, f"the scan found no use of {known}")
        gaps = missing(uses, provided_for(funcs))
        if gaps:
            self.fail(missing_message(gaps))


class PackagesListTest(unittest.TestCase):
    def setUp(self):
        self.entries = read_packages()

    def test_names_are_debian_package_names(self):
        seen, commands = {}, {}
        for pkg, cmds, n in self.entries:
            self.assertRegex(pkg, rf"^{PACKAGE_NAME.pattern}$",
                             f"scripts/packages:{n}: {pkg!r} is not a Debian package name")
            self.assertNotIn(pkg, seen, f"scripts/packages:{n}: {pkg} again (line {seen.get(pkg)})")
            seen[pkg] = n
            for c in cmds:
                self.assertRegex(c, rf"^{COMMAND_NAME.pattern}$", f"scripts/packages:{n}: {c!r}")
                self.assertNotIn(c, commands, f"scripts/packages:{n}: {c} is listed for "
                                 f"{commands.get(c)} too")
                self.assertNotIn(c, BUILT, f"scripts/packages:{n}: {c} is in BUILT too")
                commands[c] = pkg

    def test_listed_packages_are_installed(self):
        if os.geteuid() != 0:
            self.skipTest("not root: scripts/setup (which installs the list) needs root")
        cache = os.environ.get("ROUTELET_CACHE", "/var/cache/routelet")
        if not os.path.islink(os.path.join(cache, "bin", "kubectl")):
            self.skipTest(f"scripts/setup has not run here (no {cache}/bin/kubectl)")
        installed = installed_packages()
        absent = [f"  scripts/packages:{n}: {pkg}" for pkg, _c, n in self.entries
                  if pkg not in installed and not _setup_substitutes(pkg)]
        if absent:
            self.fail("packages of scripts/packages that are not installed although "
                      "scripts/setup ran here (run it again, or fix the name):\n" +
                      "\n".join(absent))

    def test_listed_commands_come_from_their_package(self):
        installed = installed_packages()
        entries = [(p, c, n) for p, c, n in self.entries
                   if c and p in installed and not _setup_substitutes(p)]
        files = package_files({p for p, _c, _n in entries})
        # Debian's bin directories, not this shell's PATH: a pyenv or /usr/local python3
        # ahead on PATH says nothing about the package.
        search = os.pathsep.join(BIN_DIRS)
        chains, problems = {}, []
        for pkg, cmds, n in entries:
            for cmd in cmds:
                found = shutil.which(cmd, path=search)
                paths = set()
                p = found
                for _ in range(10):  # the symlink chain: /usr/bin/x -> /etc/alternatives/x -> ...
                    if not p:
                        break
                    paths |= merged_usr(p)
                    if not os.path.islink(p):
                        break
                    p = os.path.join(os.path.dirname(p), os.readlink(p))
                    p = os.path.normpath(p)
                if found:
                    paths |= merged_usr(os.path.realpath(found))
                chains[(pkg, cmd, n)] = (found, paths)
        owners = _dpkg_owners(set().union(*(ps for _f, ps in chains.values())) if chains else [])
        for (pkg, cmd, n), (found, paths) in chains.items():
            if any(pkg in owners.get(p, ()) for p in paths):
                continue
            # A command outside PATH that the package ships in a bin directory of its own
            # (Go's /usr/lib/go-1.19/bin/go).
            if any(os.path.basename(f) == cmd and os.path.basename(os.path.dirname(f)) in
                   ("bin", "sbin") and os.path.isfile(f) for f in files.get(pkg, [])):
                continue
            if not found:
                problems.append(f"scripts/packages:{n}: {pkg} is installed but has no "
                                f"command {cmd}")
            else:
                who = sorted(set().union(*(owners.get(p, set()) for p in paths)))
                problems.append(f"scripts/packages:{n}: {cmd} here is {found}, from "
                                f"{', '.join(who) or 'no package'}, not from {pkg}")
        if problems:
            self.fail("scripts/packages names commands its packages do not provide here:\n" +
                      "\n".join("  " + p for p in problems))


class ScannerSelfTest(unittest.TestCase):
    """The scanner reports a made-up command and nothing that is not one."""

    BASH = textwrap.dedent("""\
        #!/usr/bin/env bash
        # frobnicate-in-comment-xyz would be a comment
        set -euo pipefail
        helper() { local x=$1; shift; "$@"; }
        echo "start $(date +%s)" >&2
        frobnicate-xyz --flag "$HOME" | sort
        ip netns exec ns frobnicate2-xyz -v
        X=1 Y="a b" helper arg printf '%s\\n' done
        cat <<'EOF'
        notacommand-xyz --in-a-heredoc
        EOF
        cat <<-EOF2
        	notacommand2-xyz
        	EOF2
        case $1 in
          start | begin) true ;;
          *) [[ $1 =~ ^(foo|bar)$ ]] && echo "$1" ;;
        esac
        for f in a b; do (( n += 1 )); done
        arr=(notacommand3-xyz one two)
        "$STATE/bin/routelet" --x && ./local-tool && /usr/bin/env -i A=1 tail -n1 /dev/null
        """)
    PY = textwrap.dedent("""\
        import shutil, subprocess
        def run(cmd, **kw):
            return subprocess.run(cmd, **kw)
        def ns(ns, *cmd):
            return run(["ip", "netns", "exec", ns, *cmd])
        def sh(script):
            return run(["bash", "-c", "set -e; " + script])
        run(["frobnicate-xyz", "--x"])
        ns("rl-node1", "frobnicate2-xyz", "a")
        sh(f"frobnicate3-xyz {1 + 1} | head -1")
        shutil.which("uname")
        sorted(["notacommand4-xyz", "b"])
        subprocess.Popen(["ip", "netns", "exec", shutil.__name__, "frobnicate2-xyz"])
        """)

    def test_made_up_commands_and_only_them(self):
        with tempfile.TemporaryDirectory() as d:
            bash, py = os.path.join(d, "t.sh"), os.path.join(d, "t.py")
            with open(bash, "w", encoding="utf-8") as f:
                f.write(self.BASH)
            with open(py, "w", encoding="utf-8") as f:
                f.write(self.PY)
            uses, funcs = scan([bash], [py])
            self.assertIn("helper", funcs)
            gaps = missing(uses, provided_for(funcs), root=d)
        self.assertEqual(sorted(gaps), ["frobnicate-xyz", "frobnicate2-xyz", "frobnicate3-xyz"])
        self.assertEqual(gaps["frobnicate-xyz"], ["t.py:8", "t.sh:6"])
        self.assertEqual(gaps["frobnicate2-xyz"], ["t.py:9", "t.py:13", "t.sh:7"])
        self.assertEqual(gaps["frobnicate3-xyz"], ["t.py:10"])
        msg = missing_message(gaps)
        self.assertIn("frobnicate2-xyz: run by t.py:9, t.py:13, t.sh:7", msg)
        self.assertIn("add it to scripts/packages", msg)

    def test_wrapped_builtins_are_programs(self):
        # `kill` is a builtin, but `xargs kill` execs /bin/kill (procps).
        uses = []
        scan_bash_text("xargs -r kill; kill 1; timeout 5 echo x", "t", 1, {}, uses)
        self.assertEqual([(u.name, u.direct) for u in uses],
                         [("xargs", True), ("kill", False), ("kill", True),
                          ("timeout", True), ("echo", False)])


if __name__ == "__main__":
    unittest.main()
