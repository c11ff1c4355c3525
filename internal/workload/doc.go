// Package workload is the payment workload that measures every migration and
// cutover test: it writes payments at a fixed rate through a host name it
// resolves on every new connection (the way the payment service reaches its
// database through the writer DNS record), retries the way a real service
// does (same idempotency key, so a retry never writes a second row), records
// every key it attempted and every key whose commit was acknowledged, and
// checks that ledger against a database: a single acknowledged payment lost
// or written twice means the migration failed.
//
// Seed creates the sample schema the operator migrates, Run drives the
// workload, Check (CheckWait right after replication) compares a Ledger with
// a database. A cutover test looks like:
//
//	conn := workload.Conn{Host: "db.payments.example", Port: 5432, User: "payments_app",
//		Password: pw, Database: "payments", SSLMode: "prefer",
//		// Where the writer record points now, e.g. read from the emulated
//		// Route 53; "127.0.0.1:5433" (with a port) is allowed.
//		Resolver: workload.ResolverFunc(lookupWriter)}
//	done := make(chan workload.Report, 1)
//	go func() { rep, _ := workload.Run(ctx, workload.Config{Conn: conn, Rate: 200, Duration: 2 * time.Minute}); done <- rep }()
//	// ... cutover: fence, drain, flip ...
//	rep := <-done
//	lr, err := workload.CheckWait(ctx, targetPool, rep.Ledger, time.Minute)
//	if !lr.OK() { t.Fatal(lr.Problems()) }
//
// The pure parts (pacing, keys, error classification, percentiles, the
// write-unavailable window, the ledger file and its in-memory comparison)
// are separate from the database parts and tested on their own.
package workload
