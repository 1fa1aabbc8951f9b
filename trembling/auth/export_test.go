package auth

// PepperedPrefix exports pepperedPrefix to the tests of package auth_test.
const PepperedPrefix = pepperedPrefix
