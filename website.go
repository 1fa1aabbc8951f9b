package aspengo

// Website is a site: a www root, its hooks and its simplates.
type Website struct {
	root string
}
