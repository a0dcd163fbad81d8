package store_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/mcpguard/mcpguard/store"
	"github.com/mcpguard/mcpguard/store/storetest"
)

// freshRedis empties the test server's database 0 and returns its DSN.
func freshRedis(t *testing.T) string {
	t.Helper()
	addr := redisAddr(t)
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	if err := c.FlushDB(t.Context()).Err(); err != nil {
		t.Fatalf("FLUSHDB: %v", err)
	}
	return "redis://" + addr + "/0"
}

func TestRedis(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return mustOpen(t, freshRedis(t))
	})
}

func TestRedisReplicas(t *testing.T) {
	storetest.RunReplicas(t, func(t *testing.T) (store.Store, store.Store) {
		dsn := freshRedis(t)
		return mustOpen(t, dsn), mustOpen(t, dsn)
	})
}

// TestRedisCluster runs the suite through the Cluster client: every key shares one hash
// slot, so the scripts and transactions work unchanged.
func TestRedisCluster(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		addr := redisClusterAddr(t)
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		if err := c.FlushAll(t.Context()).Err(); err != nil {
			t.Fatalf("FLUSHALL: %v", err)
		}
		return mustOpen(t, "redis+cluster://"+addr)
	})
}

// TestRedisSentinel runs the suite through the Sentinel (failover) client, which asks a
// real Sentinel for the master's address.
func TestRedisSentinel(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		freshRedis(t) // empties the master
		return mustOpen(t, "redis+sentinel://"+redisSentinelAddr(t)+"/0?master_name=mcpguard")
	})
}
