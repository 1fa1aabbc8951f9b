package aspengo

// Test helpers of the package, for its external tests (package
// aspengo_test).
var (
	StartWebsite = startWebsite
	WriteSite    = writeSite
)
