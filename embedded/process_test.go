package embedded_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/aspengo/aspengo/embedded"
	"github.com/aspengo/aspengo/embedded/enginetest"
)

const childEnv = "ASPENGO_EMBEDDED_TEST_CHILD"

// TestHelperProcess is not a test: run as a child process by the tests
// below, it opens the directory named in its environment, inserts a
// document, reports "owner=<bool> uri=<uri>" and waits for stdin to close.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Skip("helper process for other tests")
	}
	ctx := context.Background()
	e, err := embedded.Open(ctx, embedded.Config{Dir: dir})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	c, err := mongo.Connect(enginetest.ClientOptions(e.URI()))
	if err == nil {
		_, err = c.Database("app").Collection("c").InsertOne(ctx, bson.M{"from": "child"})
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Printf("owner=%v uri=%s\n", e.Owner(), e.URI())
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	os.Exit(0)
}

// child starts the helper process on dir and returns its report line.
func child(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "error:") {
		t.Fatalf("child: %s", line)
	}
	return cmd, line
}

func TestOtherProcessConnectsToOwner(t *testing.T) {
	dir := t.TempDir()
	e := enginetest.Engine(t, dir)
	_, line := child(t, dir)
	if want := "owner=false uri=" + e.URI(); line != want {
		t.Fatalf("child reported %q, want %q", line, want)
	}
	c := enginetest.Connect(t, e.URI())
	n, err := c.Database("app").Collection("c").CountDocuments(context.Background(), bson.M{"from": "child"})
	if err != nil || n != 1 {
		t.Errorf("documents from the child: %d, %v", n, err)
	}
}

func TestCrashedOwnerIsReplaced(t *testing.T) {
	dir := t.TempDir()
	cmd, line := child(t, dir)
	if !strings.HasPrefix(line, "owner=true ") {
		t.Fatalf("child reported %q, want it the owner", line)
	}
	// While the child owns the directory, this process is its client.
	ctx := context.Background()
	e, err := embedded.Open(ctx, embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if e.Owner() {
		t.Fatal("Open while the child owns the directory is an owner")
	}

	if err := cmd.Process.Kill(); err != nil { // no cleanup: a crash
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if _, err := os.Stat(dir + "/" + embedded.SocketFile); err != nil {
		t.Fatalf("killed owner left no socket behind: %v", err)
	}

	e2 := enginetest.Engine(t, dir)
	if !e2.Owner() {
		t.Fatal("Open after the owner crashed is not the owner")
	}
	c := enginetest.Connect(t, e2.URI())
	qctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	n, err := c.Database("app").Collection("c").CountDocuments(qctx, bson.M{"from": "child"})
	if err != nil || n != 1 {
		t.Errorf("the crashed owner's document: %d, %v", n, err)
	}
}
