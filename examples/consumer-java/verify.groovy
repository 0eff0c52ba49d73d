// Not part of the example: attn4j's consumer-it runs this after building the project (maven-invoker-plugin), so that
// a build that ran no test, or no TCK, cannot pass for a working example.
def log = new File(basedir, 'build.log').text
def runs = (log =~ /Tests run: (\d+), Failures: 0, Errors: 0, Skipped: (\d+)/)
assert runs.find() : 'no passing surefire summary in build.log'
def tests = runs.group(1) as int
def skipped = runs.group(2) as int
assert tests - skipped >= 40 : "only ${tests - skipped} tests passed (TCK checks and golden cases expected)"
def report = new File(basedir, 'target/tck-report.md')
assert report.isFile() : 'the TCK wrote no target/tck-report.md'
assert report.text.contains('| causal32 |') : 'target/tck-report.md has no row for causal32'
return true
