package aspengo

// WriteSite is writeSite, for the package's external tests (package
// aspengo_test), which start their sites with internal/sitetest.
var WriteSite = writeSite
