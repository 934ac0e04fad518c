package lessons

// RenamedQuestions is renamedQuestions, for the tests that need the
// parser (lessons/parse), which only an external test may import.
var RenamedQuestions = renamedQuestions
