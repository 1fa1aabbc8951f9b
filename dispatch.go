package aspengo

// Resource is the file a URL path resolved to.
type Resource struct {
	// Path is the file's name relative to the www root, slash-separated.
	Path string
	// Vars holds the values of virtual path segments by name: a string,
	// or an int for a %name.int segment.
	Vars map[string]any
}
