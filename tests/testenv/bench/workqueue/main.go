// Command workqueue-bench measures client-go's work queue
// (k8s.io/client-go/util/workqueue) on the shapes of the Rust bench
// tests/benches/queue.rs, which runs this program in the same run and prints
// the ratios:
//
//   - throughput: 1,000,000 adds over 10,000 distinct keys from 4 producer
//     goroutines while 4 worker goroutines loop Get/Done; from the start to
//     the last worker returning after ShutDown (the queue drained);
//   - add of a queued key: every key queued, then 1,000,000 adds of queued
//     keys on one goroutine, per add;
//   - add + get + done: 1,000,000 cycles on an empty queue, one goroutine,
//     per cycle.
//
// Keys are `ns-N/cm-NNNNN` strings (what client-go controllers queue) and a
// struct of the two strings (the shape of the Rust `ObjectKey`). Each figure
// is the median of -rounds rounds.
//
// Usage:
//
//	workqueue-bench [-rounds 5]
//
// Output: human-readable lines, and one line per figure for the Rust bench:
//
//	RESULT <figure> <key> <median, ns (items for "processed")>
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
)

const (
	keyCount  = 10_000
	adds      = 1_000_000
	producers = 4
	workers   = 4
)

// objectKey is the shape of the Rust ObjectKey.
type objectKey struct {
	Namespace string
	Name      string
}

func stringKeys() []string {
	keys := make([]string, keyCount)
	for i := range keys {
		keys[i] = fmt.Sprintf("ns-%d/cm-%05d", i%10, i)
	}
	return keys
}

func structKeys() []objectKey {
	keys := make([]objectKey, keyCount)
	for i := range keys {
		keys[i] = objectKey{Namespace: fmt.Sprintf("ns-%d", i%10), Name: fmt.Sprintf("cm-%05d", i)}
	}
	return keys
}

// throughput: producers add adds/producers keys each (producer p starts at
// key p*keyCount/producers and walks all keys in order), workers Get/Done
// until the queue is shut down and drained.
func throughput[T comparable](keys []T) (time.Duration, int) {
	q := workqueue.NewTyped[T]()
	var producing, working sync.WaitGroup
	processed := make([]int, workers)
	start := time.Now()
	for w := range workers {
		working.Go(func() {
			for {
				item, shutdown := q.Get()
				if shutdown {
					return
				}
				processed[w]++
				q.Done(item)
			}
		})
	}
	for p := range producers {
		producing.Go(func() {
			offset := p * len(keys) / producers
			for j := range adds / producers {
				q.Add(keys[(offset+j)%len(keys)])
			}
		})
	}
	producing.Wait()
	q.ShutDown()
	working.Wait()
	elapsed := time.Since(start)
	total := 0
	for _, n := range processed {
		total += n
	}
	return elapsed, total
}

// addQueued: the time of one Add of a key that is already queued.
func addQueued[T comparable](keys []T) time.Duration {
	q := workqueue.NewTyped[T]()
	for _, k := range keys {
		q.Add(k)
	}
	start := time.Now()
	for j := range adds {
		q.Add(keys[j%len(keys)])
	}
	elapsed := time.Since(start)
	q.ShutDown()
	return elapsed / adds
}

// cycle: the time of one Add + Get + Done on an otherwise empty queue.
func cycle[T comparable](keys []T) time.Duration {
	q := workqueue.NewTyped[T]()
	start := time.Now()
	for j := range adds {
		q.Add(keys[j%len(keys)])
		item, _ := q.Get()
		q.Done(item)
	}
	elapsed := time.Since(start)
	q.ShutDown()
	return elapsed / adds
}

func median[T int64 | time.Duration](v []T) T {
	slices.Sort(v)
	return v[len(v)/2]
}

func report(figure, key string, rounds []time.Duration) {
	m := median(rounds)
	shown := fmt.Sprintf("%d ns", m.Nanoseconds())
	if figure == "throughput" {
		shown = fmt.Sprintf("%.1f ms", float64(m)/1e6)
	}
	fmt.Printf("client-go %-10s %-6s %s (median of %d: %v)\n", figure, key, shown, len(rounds), rounds)
	fmt.Printf("RESULT %s %s %d\n", figure, key, m.Nanoseconds())
}

func measure[T comparable](name string, keys []T, rounds int) {
	var tp, aq, cy []time.Duration
	var taken []int64
	for range rounds {
		elapsed, processed := throughput(keys)
		if processed < len(keys) || processed > adds {
			fmt.Fprintf(os.Stderr, "throughput: %d items processed, expected %d to %d\n", processed, len(keys), adds)
			os.Exit(1)
		}
		tp = append(tp, elapsed)
		taken = append(taken, int64(processed))
		aq = append(aq, addQueued(keys))
		cy = append(cy, cycle(keys))
	}
	report("throughput", name, tp)
	m := median(taken)
	fmt.Printf("client-go %-10s %-6s %d items taken by the workers (median of %d: %v)\n", "processed", name, m, len(taken), taken)
	fmt.Printf("RESULT processed %s %d\n", name, m)
	report("add_queued", name, aq)
	report("cycle", name, cy)
}

func main() {
	rounds := flag.Int("rounds", 5, "rounds per figure (the median is reported)")
	flag.Parse()
	if *rounds < 1 {
		fmt.Fprintln(os.Stderr, "-rounds must be at least 1")
		os.Exit(2)
	}
	fmt.Printf("go %s, GOMAXPROCS %d, %d adds over %d keys, %d producers, %d workers\n",
		runtime.Version(), runtime.GOMAXPROCS(0), adds, keyCount, producers, workers)
	measure("string", stringKeys(), *rounds)
	measure("struct", structKeys(), *rounds)
}
