package mysql

// The lookup queries, for the test of their plans.
const (
	QueryUserByEmail = queryUserByEmail
	QueryUserByID    = queryUserByID
)
