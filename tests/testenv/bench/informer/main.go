// Command informer-bench measures client-go's shared informer the way
// tests/benches/informer.rs measures bot-runtime's: time from starting a
// SharedInformerFactory for ConfigMaps to synced, and the memory the cache
// holds per object, in a process of its own (one measurement per process).
//
// Usage:
//
//	informer-bench --kubeconfig PATH --selector app=bench --n 10000 [--strip-managed-fields] [--json]
//
// It prints one JSON line:
//
//	{"n":10000,"sync_ms":162.3,"heap_per_object":2283,"rss_per_object":3360}
//
// heap_per_object is runtime.MemStats.HeapInuse after a GC, minus the same
// before the factory started, divided by n; rss_per_object is the growth of
// the resident set (VmRSS) over the same interval, divided by n. Default
// settings otherwise: client-go's feature gates (WatchListClient on since
// v1.35, so the initial list is streamed), no resync, and the typed
// client's content type: protobuf for ConfigMaps (client-go's generated
// clients prefer it for built-in kinds); --json asks for JSON instead.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

type result struct {
	N             int     `json:"n"`
	SyncMs        float64 `json:"sync_ms"`
	HeapPerObject float64 `json:"heap_per_object"`
	RSSPerObject  float64 `json:"rss_per_object"`
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "admin kubeconfig of the control plane (required)")
	selector := flag.String("selector", "app=bench", "label selector of the ConfigMaps to cache (all namespaces)")
	n := flag.Int("n", 0, "number of ConfigMaps the selector matches (required)")
	strip := flag.Bool("strip-managed-fields", false, "drop managedFields before caching (a WithTransform)")
	asJSON := flag.Bool("json", false, "list and watch in JSON instead of protobuf")
	flag.Parse()
	if *kubeconfig == "" || *n <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*kubeconfig, *selector, *n, *strip, *asJSON); err != nil {
		fmt.Fprintf(os.Stderr, "informer-bench: %v\n", err)
		os.Exit(1)
	}
}

func run(kubeconfig, selector string, n int, strip, asJSON bool) error {
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	if asJSON {
		// An explicit content type overrides the typed client's protobuf default.
		config.ContentType = "application/json"
		config.AcceptContentTypes = "application/json"
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	options := []informers.SharedInformerOption{
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }),
	}
	if strip {
		options = append(options, informers.WithTransform(func(obj interface{}) (interface{}, error) {
			if accessor, ok := obj.(metav1.ObjectMetaAccessor); ok {
				accessor.GetObjectMeta().SetManagedFields(nil)
			}
			return obj, nil
		}))
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, options...)
	informer := factory.Core().V1().ConfigMaps().Informer()

	heapBefore, rssBefore := heapInuse(), rss()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("%v did not sync", typ)
		}
	}
	syncTime := time.Since(start)
	if got := len(informer.GetStore().ListKeys()); got != n {
		return fmt.Errorf("cached %d ConfigMaps, expected %d", got, n)
	}
	heapAfter, rssAfter := heapInuse(), rss()
	if strip {
		// The transform ran: no cached object keeps managedFields.
		for _, obj := range informer.GetStore().List() {
			if len(obj.(*corev1.ConfigMap).ManagedFields) != 0 {
				return fmt.Errorf("transform not applied")
			}
		}
	}
	out, err := json.Marshal(result{
		N:             n,
		SyncMs:        float64(syncTime.Microseconds()) / 1000,
		HeapPerObject: float64(int64(heapAfter)-int64(heapBefore)) / float64(n),
		RSSPerObject:  float64(rssAfter-rssBefore) / float64(n),
	})
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	runtime.KeepAlive(informer)
	return nil
}

// heapInuse is HeapInuse after a full collection.
func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// rss is the resident set size (VmRSS) in bytes.
func rss() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := scanner.Text()
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
