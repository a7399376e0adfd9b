// The least a CNI plugin's exec can cost: a static executable that does nothing. The CNI
// benchmark spawns it through its driver to show the exec share of every plugin call.
int main() {
  return 0;
}
