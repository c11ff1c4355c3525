package pgtest

import (
	"context"
	"os"
	"testing"
)

func TestStartServesAndStopRemovesTheDirectory(t *testing.T) {
	s, err := StartServer(context.Background(), Options{Database: "ledger", Settings: map[string]string{"max_connections": "30"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := s.DataDir
	var walLevel, maxConn, db string
	conn := s.Pool(t)
	if err := conn.QueryRow(context.Background(), "select current_setting('wal_level'), current_setting('max_connections'), current_database()").Scan(&walLevel, &maxConn, &db); err != nil {
		t.Fatal(err)
	}
	if walLevel != "logical" || maxConn != "30" || db != "ledger" {
		t.Errorf("wal_level %s, max_connections %s, database %s", walLevel, maxConn, db)
	}
	conn.Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Stop: %v", dir, err)
	}
}
