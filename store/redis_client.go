package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// redisClient builds the client a DSN names:
//
//	redis://[user:pass@]host:port/db                       one server
//	rediss://[user:pass@]host:port/db                      one server over TLS
//	redis+sentinel://[user:pass@]host:port/db?master_name=NAME&addr=host2:port
//	redis+cluster://[user:pass@]host:port?addr=host2:port&addr=host3:port
//
// rediss+sentinel:// and rediss+cluster:// are the TLS forms; query parameters are
// go-redis's (dial_timeout, pool_size, ...). For Sentinel the user and password of the DSN
// authenticate to the sentinels and, unless password= is given, to the master too.
func redisClient(dsn string) (redis.UniversalClient, error) {
	scheme, rest, _ := strings.Cut(dsn, "://")
	scheme = strings.ToLower(scheme)
	base, mode, _ := strings.Cut(scheme, "+")
	plain := base + "://" + rest
	fail := func(err error) (redis.UniversalClient, error) {
		// go-redis errors name options, never the password; the DSN is not repeated.
		return nil, fmt.Errorf("store: %s DSN (%s): %w", scheme, supportedDSNs, err)
	}
	switch mode {
	case "":
		o, err := redis.ParseURL(plain)
		if err != nil {
			return fail(err)
		}
		return redis.NewClient(o), nil
	case "sentinel":
		o, err := redis.ParseFailoverURL(plain)
		if err != nil {
			return fail(err)
		}
		if o.MasterName == "" {
			return fail(errors.New("master_name= is required"))
		}
		if o.Username == "" && o.Password == "" {
			o.Username, o.Password = o.SentinelUsername, o.SentinelPassword
		}
		return redis.NewFailoverClient(o), nil
	case "cluster":
		o, err := redis.ParseClusterURL(plain)
		if err != nil {
			return fail(err)
		}
		return redis.NewClusterClient(o), nil
	}
	return fail(fmt.Errorf("unknown mode %q", mode))
}
