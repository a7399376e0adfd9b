// libcni-driver drives routelet-cni through libcni 1.1.2, the CNI library of containerd 1.6
// and 1.7 and of CRI-O up to 1.30 (Debian's golang-github-appc-cni-dev), for the runtime
// tests. A test tool, not part of routelet: it is built from Debian's Go packages only.
//
//	libcni-driver VERB -conflist FILE -bin-dir DIR -cache-dir DIR [-id ID -netns PATH -ifname IF]
//
// VERBs: version (the cniVersion libcni 1.1 hands the plugins for this conflist), add,
// check, del, cached (libcni's cached result), gc and status. libcni 1.1 has no GC and no
// STATUS; for those the driver does what libcni 1.2 does: it takes the highest version of
// the conflist's cniVersion and cniVersions it implements (1.1.0), injects it and the name
// into the plugin's config, adds cni.dev/valid-attachments (-valid ID/IF,...), and execs the
// plugin through libcni's own invoke package.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/version"
)

// The newest spec version libcni 1.2 implements, the one it picks from cniVersions.
const libcni12Version = "1.1.0"

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "libcni-driver: "+format+"\n", args...)
	os.Exit(1)
}

// took reports on stderr how long libcni's call took, plugin exec included: the ADD or DEL
// as a runtime's library makes it.
func took(verb string, start time.Time) {
	fmt.Fprintf(os.Stderr, "libcni-driver: %s took %.3f ms\n", verb, float64(time.Since(start).Microseconds())/1000)
}

func printJSON(v interface{}) {
	out, err := json.Marshal(v)
	if err != nil {
		fail("encode output: %v", err)
	}
	fmt.Println(string(out))
}

// newestVersion is libcni 1.2's choice: the highest of cniVersion and cniVersions that is
// not above the version it implements.
func newestVersion(raw []byte) (string, error) {
	var list struct {
		CNIVersion  string   `json:"cniVersion"`
		CNIVersions []string `json:"cniVersions"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return "", err
	}
	best := ""
	for _, v := range append(list.CNIVersions, list.CNIVersion) {
		if v == "" {
			continue
		}
		// GreaterThanOrEqualTo is what libcni 1.1 has; libcni 1.2 compares the same way.
		notAbove, err := version.GreaterThanOrEqualTo(libcni12Version, v)
		if err != nil {
			return "", err
		}
		if !notAbove {
			continue
		}
		if best == "" {
			best = v
		} else if atLeast, _ := version.GreaterThanOrEqualTo(v, best); atLeast {
			best = v
		}
	}
	return best, nil
}

// execNoAttachment runs a verb that concerns no attachment (GC, STATUS) as libcni 1.2 does.
func execNoAttachment(list *libcni.NetworkConfigList, raw []byte, binDir, verb string, valid string) error {
	v, err := newestVersion(raw)
	if err != nil {
		return err
	}
	for _, plugin := range list.Plugins {
		conf := map[string]interface{}{}
		if err := json.Unmarshal(plugin.Bytes, &conf); err != nil {
			return err
		}
		conf["cniVersion"] = v
		conf["name"] = list.Name
		if verb == "GC" {
			attachments := []map[string]string{}
			for _, a := range strings.Split(valid, ",") {
				if a == "" {
					continue
				}
				parts := strings.SplitN(a, "/", 2)
				if len(parts) != 2 {
					return fmt.Errorf("-valid entry %q is not ID/IFNAME", a)
				}
				attachments = append(attachments, map[string]string{"containerID": parts[0], "ifname": parts[1]})
			}
			conf["cni.dev/valid-attachments"] = attachments
		}
		stdin, err := json.Marshal(conf)
		if err != nil {
			return err
		}
		exec := &invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: os.Stderr}}
		path, err := exec.FindInPath(plugin.Network.Type, []string{binDir})
		if err != nil {
			return err
		}
		args := &invoke.Args{Command: verb, Path: binDir}
		if err := invoke.ExecPluginWithoutResult(context.Background(), path, stdin, args, exec); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: libcni-driver VERB -conflist FILE -bin-dir DIR -cache-dir DIR [-id -netns -ifname -valid]")
	}
	verb := os.Args[1]
	flags := flag.NewFlagSet(verb, flag.ExitOnError)
	conflist := flags.String("conflist", "", "the conflist, as the agent wrote it")
	binDir := flags.String("bin-dir", "", "where routelet-cni is")
	cacheDir := flags.String("cache-dir", "", "libcni's result cache")
	id := flags.String("id", "", "container ID")
	netns := flags.String("netns", "", "the pod's network namespace")
	ifname := flags.String("ifname", "eth0", "the pod's interface")
	valid := flags.String("valid", "", "GC: the valid attachments, ID/IFNAME,...")
	if err := flags.Parse(os.Args[2:]); err != nil {
		fail("%v", err)
	}
	raw, err := os.ReadFile(*conflist)
	if err != nil {
		fail("%v", err)
	}
	list, err := libcni.ConfListFromBytes(raw)
	if err != nil {
		fail("conflist %s: %v", *conflist, err)
	}
	cni := libcni.NewCNIConfigWithCacheDir([]string{*binDir}, *cacheDir, nil)
	rt := &libcni.RuntimeConf{ContainerID: *id, NetNS: *netns, IfName: *ifname,
		Args: [][2]string{{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", "default"}, {"K8S_POD_NAME", *id}}}
	ctx := context.Background()
	switch verb {
	case "version":
		printJSON(map[string]string{"libcni11": list.CNIVersion})
	case "add":
		start := time.Now()
		result, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail("ADD: %v", err)
		}
		took(verb, start)
		printJSON(result)
	case "check":
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			fail("CHECK: %v", err)
		}
	case "del":
		start := time.Now()
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			fail("DEL: %v", err)
		}
		took(verb, start)
	case "cached":
		result, err := cni.GetNetworkListCachedResult(list, rt)
		if err != nil {
			fail("cached result: %v", err)
		}
		printJSON(result)
	case "gc", "status":
		if err := execNoAttachment(list, raw, *binDir, strings.ToUpper(verb), *valid); err != nil {
			fail("%s: %v", strings.ToUpper(verb), err)
		}
	default:
		fail("unknown verb %q", verb)
	}
}
