namespace ExportJobs.Core;

/// <summary>Sorts a short list in place keeping equal items in their order: an insertion sort, linear on a list already in order.</summary>
public static class StableSort
{
    public static List<T> SortStable<T>(this List<T> list, Comparison<T> compare)
    {
        for (int i = 1; i < list.Count; i++)
        {
            var item = list[i];
            int j = i - 1;
            for (; j >= 0 && compare(list[j], item) > 0; j--) list[j + 1] = list[j];
            list[j + 1] = item;
        }
        return list;
    }
}
